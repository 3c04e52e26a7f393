# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Hashed time-locked contract (HTLC) for native coin and ERC-20 atomic swaps
@license MIT
@notice Non-custodial: funds can only ever leave to the lock's recipient
        (with the preimage, before the timelock) or back to its sender
        (after the timelock). Nobody else, owner included, can move them.

Design decisions (the public interface is fixed; wallets and bots rely on it):

1. Deterministic lock id.
   id = keccak256(abi_encode(chain.id, self, token, sender, recipient,
                             amount, hashlock, timelock))
   with token = empty(address) for native coin and sender = msg.sender.
   Clients and the server can compute the id before the lock is mined, and
   chain.id + self keep ids unique across chains and deployments. A lock whose
   id already exists (in any state) is refused, so a finished lock can never
   be re-armed with an already revealed preimage.

2. Hashlock rule (BIP-199): hashlock = sha256(preimage), preimage exactly
   32 bytes. sha256 rather than keccak256 so the same secret works on
   Bitcoin-style chains on the other leg of the swap.

3. Disjoint windows: redeem only while state == LOCKED and
   block.timestamp < timelock; refund only while state == LOCKED and
   block.timestamp >= timelock. At any instant at most one of the two is
   possible, so they can never race. timelock is a unix timestamp that must
   be strictly in the future when locking.

4. Anyone may send redeem/refund: the payee is fixed by the lock (recipient
   for redeem, sender for refund), so relayers/bots can finish swaps on behalf
   of users without being able to redirect funds.

5. Ownership: the deployer is the owner, transferable in two steps
   (transferOwnership + acceptOwnership) so a typo cannot lose the key.
   The owner can only pause()/unpause() the creation of NEW locks (e.g. if a
   bug is found). Pausing never blocks redeem or refund, and there is no
   sweep, withdraw, selfdestruct, delegatecall or upgrade path at all.

6. Token locks measure balanceOf(self) before and after transferFrom and
   require exactly `amount` to have arrived: fee-on-transfer / deflationary
   tokens would otherwise leave the contract owing more than it holds.
   Tokens that return no bool (USDT style) are called through raw_call and an
   empty or true return is accepted. lockToken is not payable, so msg.value
   is always 0 there.

7. Checks-effects-interactions plus @nonreentrant (one global lock in vyper
   0.4) on every state-changing function: a lock's state is written before any
   token or coin moves, so a reentrant call cannot pay twice, and the guard
   blocks reentry into any other lock as well.

8. Native payouts use raw_call(to, b"", value=amount) forwarding all gas
   (smart-contract wallets must be able to receive) and revert with
   "transfer failed" if the call fails. A recipient that rejects coin makes
   redeem revert; the sender can still refund after the timelock.

9. Lock data is kept after redeem/refund (only the state changes) so
   getLock keeps answering for finished swaps.
"""

from ethereum.ercs import IERC20

# Lock states as returned by getLock (plain integers so non-vyper clients can
# compare them directly; vyper `flag` values would be powers of two).
STATE_NONE: constant(uint8) = 0
STATE_LOCKED: constant(uint8) = 1
STATE_REDEEMED: constant(uint8) = 2
STATE_REFUNDED: constant(uint8) = 3


struct Lock:
    token: address
    sender: address
    recipient: address
    amount: uint256
    hashlock: bytes32
    timelock: uint256
    state: uint8


event Locked:
    id: indexed(bytes32)
    token: address
    sender: indexed(address)
    recipient: indexed(address)
    amount: uint256
    hashlock: bytes32
    timelock: uint256


event Redeemed:
    id: indexed(bytes32)
    preimage: bytes32


event Refunded:
    id: indexed(bytes32)


event Paused:
    account: address


event Unpaused:
    account: address


event OwnershipTransferStarted:
    previous_owner: indexed(address)
    new_owner: indexed(address)


event OwnershipTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)


owner: public(address)
pendingOwner: public(address)
paused: public(bool)

_locks: HashMap[bytes32, Lock]


@deploy
def __init__():
    self.owner = msg.sender
    log OwnershipTransferred(previous_owner=empty(address), new_owner=msg.sender)


# ---------------------------------------------------------------- locking


@external
@payable
@nonreentrant
def lock(recipient: address, hashlock: bytes32, timelock: uint256) -> bytes32:
    """
    @notice Lock msg.value of native coin for `recipient`.
    @dev Reverts "paused", "zero amount", "zero recipient",
         "timelock in past", "lock exists".
    @return The lock id (see design decision 1).
    """
    return self._create(empty(address), recipient, msg.value, hashlock, timelock)


@external
@nonreentrant
def lockToken(
    token: address, recipient: address, amount: uint256, hashlock: bytes32, timelock: uint256
) -> bytes32:
    """
    @notice Lock `amount` of ERC-20 `token` for `recipient`. The caller must
            have approved this contract for at least `amount`.
    @dev Reverts as lock() plus "not a token", "transfer failed",
         "fee-on-transfer". Not payable, so msg.value is always 0.
    @return The lock id (see design decision 1).
    """
    assert token.is_contract, "not a token"
    id: bytes32 = self._create(token, recipient, amount, hashlock, timelock)

    before: uint256 = staticcall IERC20(token).balanceOf(self)
    self._call_token(
        token,
        abi_encode(
            msg.sender, self, amount, method_id=method_id("transferFrom(address,address,uint256)")
        ),
    )
    after: uint256 = staticcall IERC20(token).balanceOf(self)
    # Compare as after == before + amount without subtracting, so a token
    # whose balance shrank reverts with the right reason instead of underflow.
    assert after >= before and after - before == amount, "fee-on-transfer"
    return id


@internal
def _create(
    token: address, recipient: address, amount: uint256, hashlock: bytes32, timelock: uint256
) -> bytes32:
    assert not self.paused, "paused"
    assert amount != 0, "zero amount"
    assert recipient != empty(address), "zero recipient"
    assert timelock > block.timestamp, "timelock in past"

    id: bytes32 = keccak256(
        abi_encode(chain.id, self, token, msg.sender, recipient, amount, hashlock, timelock)
    )
    assert self._locks[id].state == STATE_NONE, "lock exists"

    # Effects first: the record exists before any token moves.
    self._locks[id] = Lock(
        token=token,
        sender=msg.sender,
        recipient=recipient,
        amount=amount,
        hashlock=hashlock,
        timelock=timelock,
        state=STATE_LOCKED,
    )
    log Locked(
        id=id,
        token=token,
        sender=msg.sender,
        recipient=recipient,
        amount=amount,
        hashlock=hashlock,
        timelock=timelock,
    )
    return id


# ------------------------------------------------------------ settlement


@external
@nonreentrant
def redeem(id: bytes32, preimage: bytes32):
    """
    @notice Pay a lock to its recipient. Anyone may call; the preimage
            becomes public in calldata and in the Redeemed event.
    @dev Reverts "not locked", "expired", "bad preimage", "transfer failed".
         Never blocked by pause.
    """
    lk: Lock = self._locks[id]
    assert lk.state == STATE_LOCKED, "not locked"
    assert block.timestamp < lk.timelock, "expired"
    assert sha256(preimage) == lk.hashlock, "bad preimage"

    self._locks[id].state = STATE_REDEEMED
    log Redeemed(id=id, preimage=preimage)
    self._pay(lk.token, lk.recipient, lk.amount)


@external
@nonreentrant
def refund(id: bytes32):
    """
    @notice Pay a lock back to its sender once the timelock has passed.
            Anyone may call.
    @dev Reverts "not locked", "not expired", "transfer failed".
         Never blocked by pause.
    """
    lk: Lock = self._locks[id]
    assert lk.state == STATE_LOCKED, "not locked"
    assert block.timestamp >= lk.timelock, "not expired"

    self._locks[id].state = STATE_REFUNDED
    log Refunded(id=id)
    self._pay(lk.token, lk.sender, lk.amount)


@internal
def _pay(token: address, to: address, amount: uint256):
    if token == empty(address):
        ok: bool = raw_call(to, b"", value=amount, revert_on_failure=False)
        assert ok, "transfer failed"
    else:
        self._call_token(
            token, abi_encode(to, amount, method_id=method_id("transfer(address,uint256)"))
        )


@internal
def _call_token(token: address, payload: Bytes[100]):
    # raw_call instead of the IERC20 interface: USDT-style tokens return no
    # data, which a typed call would reject. Empty or true is success.
    ok: bool = False
    ret: Bytes[32] = b""
    ok, ret = raw_call(token, payload, max_outsize=32, revert_on_failure=False)
    assert ok, "transfer failed"
    if len(ret) != 0:
        assert abi_decode(ret, bool), "transfer failed"


# ------------------------------------------------------------------ views


@view
@external
def getLock(
    id: bytes32,
) -> (address, address, address, uint256, bytes32, uint256, uint8):
    """
    @notice (token, sender, recipient, amount, hashlock, timelock, state)
            with token = zero address for native coin and state 0 none,
            1 locked, 2 redeemed, 3 refunded. All zero for an unknown id.
    """
    lk: Lock = self._locks[id]
    return lk.token, lk.sender, lk.recipient, lk.amount, lk.hashlock, lk.timelock, lk.state


# ------------------------------------------------------------------ admin


@external
def pause():
    """
    @notice Refuse new locks. Owner only. Redeem and refund keep working.
    """
    assert msg.sender == self.owner, "not owner"
    assert not self.paused, "already paused"
    self.paused = True
    log Paused(account=msg.sender)


@external
def unpause():
    """
    @notice Accept new locks again. Owner only.
    """
    assert msg.sender == self.owner, "not owner"
    assert self.paused, "not paused"
    self.paused = False
    log Unpaused(account=msg.sender)


@external
def transferOwnership(new_owner: address):
    """
    @notice Start a two-step ownership transfer; `new_owner` must call
            acceptOwnership(). Passing the zero address cancels a pending
            transfer. Owner only.
    """
    assert msg.sender == self.owner, "not owner"
    self.pendingOwner = new_owner
    log OwnershipTransferStarted(previous_owner=self.owner, new_owner=new_owner)


@external
def acceptOwnership():
    """
    @notice Finish a two-step ownership transfer. Pending owner only.
    """
    assert msg.sender == self.pendingOwner, "not pending owner"
    old: address = self.owner
    self.owner = msg.sender
    self.pendingOwner = empty(address)
    log OwnershipTransferred(previous_owner=old, new_owner=msg.sender)

# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Escrow for goods and services paid in native coin or ERC-20, with an arbiter
@license MIT
@notice A buyer deposits the price of an order. The seller is paid when the
        buyer releases it, or when anyone releases it after its release time
        with no dispute open; the fee then goes to the treasury. The seller
        may refund the buyer in full at any time. Either party may open a
        dispute before the release time; only the arbiter decides a disputed
        order, by splitting the whole deposit between buyer and seller.
        Nobody, the arbiter and the deployer included, can pay anyone else.

Design decisions:

1. Order id. id = keccak256(abi_encode(chain.id, self, msg.sender, ref)),
   with `ref` the platform's 32-byte reference of the order. Including the
   depositor means nobody can take an order's id before its buyer does (a
   deposit under someone else's id would make theirs fail); chain.id and
   self keep ids unique across chains and deployments. An id is used once,
   in any state.

2. Amounts. `amount` is the whole deposit (what the buyer pays); `fee` is
   the part of it that goes to the treasury on a release. So on release the
   seller gets amount - fee; on refund the buyer gets amount; on resolve
   buyer and seller share amount (no fee). The fee is at most MAX_FEE_BPS of
   the amount; the platform's rate (ESCROW_FEE_BPS) is below that and is
   checked off chain against the order's terms.

3. States: FUNDED -> RELEASED | REFUNDED | DISPUTED;
           DISPUTED -> RESOLVED | REFUNDED (the seller concedes)
                                | RELEASED (the buyer concedes).
   release by the buyer: FUNDED or DISPUTED, at any time.
   release by anyone else: FUNDED and block.timestamp >= release_at.
   dispute (buyer or seller): FUNDED and block.timestamp < release_at, so
   a dispute and an automatic release can never both be possible.
   refund (seller): FUNDED or DISPUTED.
   resolve (arbiter): DISPUTED only, buyer_share_bps <= 10000; the buyer
   gets amount * buyer_share_bps // 10000 (rounded down), the seller the
   rest. Every payout ends the order, so each order pays out once.

4. Nothing stays behind. Every way out of FUNDED or DISPUTED pays the whole
   deposit: (amount - fee) + fee, amount, or buyer_part + (amount -
   buyer_part). A payee that cannot receive (a contract rejecting coin, a
   token blacklisting the address) must not trap the order or the other
   party's money: a failed payout is credited to that payee instead, who
   takes it with withdraw(token, to) at any time, to any address. The contract's balance of
   each asset is always the sum of open deposits plus unclaimed credits.

5. Deposits measure what arrived: native deposits need msg.value == amount;
   token deposits are not paid with coin and compare balanceOf(self) before
   and after transferFrom, so fee-on-transfer tokens are refused. Tokens
   returning no bool (USDT style) are accepted; false is a failure.

6. No owner, no pause, no upgrade, no sweep. The arbiter and the treasury
   are fixed at deployment; changing either means deploying a new escrow
   (orders already deposited stay with the old one and end there).

7. Checks-effects-interactions and @nonreentrant (one lock for the whole
   contract) on every function that moves value: the state is written
   before anything is paid.
"""

from ethereum.ercs import IERC20

STATE_NONE: constant(uint8) = 0
STATE_FUNDED: constant(uint8) = 1
STATE_DISPUTED: constant(uint8) = 2
STATE_RELEASED: constant(uint8) = 3
STATE_REFUNDED: constant(uint8) = 4
STATE_RESOLVED: constant(uint8) = 5

BPS: constant(uint256) = 10_000
# Upper bound on any order's fee, as a share of its amount (10 %).
MAX_FEE_BPS: constant(uint256) = 1_000


struct Order:
    token: address
    buyer: address
    seller: address
    amount: uint256
    fee: uint256
    release_at: uint256
    state: uint8


event EscrowDeposited:
    id: indexed(bytes32)
    ref: bytes32
    token: address
    buyer: indexed(address)
    seller: indexed(address)
    amount: uint256
    fee: uint256
    release_at: uint256


event EscrowReleased:
    id: indexed(bytes32)
    by: address
    seller_amount: uint256
    fee: uint256


event EscrowRefunded:
    id: indexed(bytes32)
    amount: uint256


event EscrowDisputed:
    id: indexed(bytes32)
    by: address


event EscrowResolved:
    id: indexed(bytes32)
    buyer_share_bps: uint256
    buyer_amount: uint256
    seller_amount: uint256


event EscrowCredited:
    account: indexed(address)
    token: address
    amount: uint256


event EscrowWithdrawn:
    account: indexed(address)
    token: address
    to: address
    amount: uint256


arbiter: public(address)
treasury: public(address)
# Unclaimed payouts: credits[token][account] (token = empty(address) for coin).
credits: public(HashMap[address, HashMap[address, uint256]])

_orders: HashMap[bytes32, Order]


@deploy
def __init__(arbiter: address, treasury: address):
    assert arbiter != empty(address), "zero arbiter"
    assert treasury != empty(address), "zero treasury"
    self.arbiter = arbiter
    self.treasury = treasury


# --------------------------------------------------------------- deposit


@external
@payable
@nonreentrant
def deposit(
    ref: bytes32,
    token: address,
    buyer: address,
    seller: address,
    amount: uint256,
    fee: uint256,
    release_at: uint256,
) -> bytes32:
    """
    @notice Deposit `amount` for order `ref`: native coin (token = zero
            address, msg.value == amount) or an ERC-20 the caller approved.
    @dev Reverts "zero amount", "zero buyer", "zero seller", "buyer is seller",
         "fee too high", "release in past", "order exists", "wrong value",
         "not a token", "transfer failed", "fee-on-transfer".
    @return The order id (design decision 1).
    """
    assert amount != 0, "zero amount"
    assert buyer != empty(address), "zero buyer"
    assert seller != empty(address), "zero seller"
    assert buyer != seller, "buyer is seller"
    assert fee * BPS <= amount * MAX_FEE_BPS, "fee too high"
    assert release_at > block.timestamp, "release in past"

    id: bytes32 = keccak256(abi_encode(chain.id, self, msg.sender, ref))
    assert self._orders[id].state == STATE_NONE, "order exists"

    if token == empty(address):
        assert msg.value == amount, "wrong value"
    else:
        assert msg.value == 0, "wrong value"
        assert token.is_contract, "not a token"

    self._orders[id] = Order(
        token=token,
        buyer=buyer,
        seller=seller,
        amount=amount,
        fee=fee,
        release_at=release_at,
        state=STATE_FUNDED,
    )
    log EscrowDeposited(
        id=id,
        ref=ref,
        token=token,
        buyer=buyer,
        seller=seller,
        amount=amount,
        fee=fee,
        release_at=release_at,
    )

    if token != empty(address):
        before: uint256 = staticcall IERC20(token).balanceOf(self)
        ok: bool = self._call_token(
            token,
            abi_encode(
                msg.sender,
                self,
                amount,
                method_id=method_id("transferFrom(address,address,uint256)"),
            ),
        )
        assert ok, "transfer failed"
        after: uint256 = staticcall IERC20(token).balanceOf(self)
        assert after >= before and after - before == amount, "fee-on-transfer"
    return id


# ------------------------------------------------------------ settlement


@external
@nonreentrant
def release(id: bytes32):
    """
    @notice Pay the seller amount - fee and the treasury the fee. The buyer
            may release at any time (also during a dispute, conceding it);
            anyone else only once release_at has passed with no dispute.
    @dev Reverts "not releasable", "too early".
    """
    o: Order = self._orders[id]
    if msg.sender == o.buyer:
        assert o.state == STATE_FUNDED or o.state == STATE_DISPUTED, "not releasable"
    else:
        assert o.state == STATE_FUNDED, "not releasable"
        assert block.timestamp >= o.release_at, "too early"

    self._orders[id].state = STATE_RELEASED
    log EscrowReleased(id=id, by=msg.sender, seller_amount=o.amount - o.fee, fee=o.fee)
    self._pay(o.token, o.seller, o.amount - o.fee)
    self._pay(o.token, self.treasury, o.fee)


@external
@nonreentrant
def refund(id: bytes32):
    """
    @notice The seller gives the whole deposit back to the buyer (no fee),
            before or during a dispute.
    @dev Reverts "not seller", "not refundable".
    """
    o: Order = self._orders[id]
    assert msg.sender == o.seller, "not seller"
    assert o.state == STATE_FUNDED or o.state == STATE_DISPUTED, "not refundable"

    self._orders[id].state = STATE_REFUNDED
    log EscrowRefunded(id=id, amount=o.amount)
    self._pay(o.token, o.buyer, o.amount)


@external
@nonreentrant
def dispute(id: bytes32):
    """
    @notice Buyer or seller stops the automatic release; only the arbiter
            (or a concession by either party) ends the order afterwards.
    @dev Reverts "not a party", "not disputable", "too late".
    """
    o: Order = self._orders[id]
    assert msg.sender == o.buyer or msg.sender == o.seller, "not a party"
    assert o.state == STATE_FUNDED, "not disputable"
    assert block.timestamp < o.release_at, "too late"
    self._orders[id].state = STATE_DISPUTED
    log EscrowDisputed(id=id, by=msg.sender)


@external
@nonreentrant
def resolve(id: bytes32, buyer_share_bps: uint256):
    """
    @notice The arbiter splits a disputed order's whole deposit: the buyer
            gets amount * buyer_share_bps // 10000, the seller the rest.
    @dev Reverts "not arbiter", "not disputed", "share above 100%".
    """
    assert msg.sender == self.arbiter, "not arbiter"
    o: Order = self._orders[id]
    assert o.state == STATE_DISPUTED, "not disputed"
    assert buyer_share_bps <= BPS, "share above 100%"

    buyer_amount: uint256 = o.amount * buyer_share_bps // BPS
    seller_amount: uint256 = o.amount - buyer_amount
    self._orders[id].state = STATE_RESOLVED
    log EscrowResolved(
        id=id,
        buyer_share_bps=buyer_share_bps,
        buyer_amount=buyer_amount,
        seller_amount=seller_amount,
    )
    self._pay(o.token, o.buyer, buyer_amount)
    self._pay(o.token, o.seller, seller_amount)


@external
@nonreentrant
def withdraw(token: address, to: address):
    """
    @notice Pay the caller's credit of `token` (zero address: native coin) to
            `to`, which the caller chooses: a credit comes from a payout that
            could not be delivered (design decision 4), so the caller may
            need it sent elsewhere.
    @dev Reverts "zero recipient", "nothing to withdraw", "transfer failed".
    """
    assert to != empty(address), "zero recipient"
    amount: uint256 = self.credits[token][msg.sender]
    assert amount != 0, "nothing to withdraw"
    self.credits[token][msg.sender] = 0
    log EscrowWithdrawn(account=msg.sender, token=token, to=to, amount=amount)
    if token == empty(address):
        assert raw_call(to, b"", value=amount, revert_on_failure=False), "transfer failed"
    else:
        assert self._call_token(
            token, abi_encode(to, amount, method_id=method_id("transfer(address,uint256)"))
        ), "transfer failed"


@internal
def _pay(token: address, to: address, amount: uint256):
    if amount == 0:
        return
    ok: bool = False
    if token == empty(address):
        ok = raw_call(to, b"", value=amount, revert_on_failure=False)
    else:
        ok = self._call_token(
            token, abi_encode(to, amount, method_id=method_id("transfer(address,uint256)"))
        )
    if not ok:
        self.credits[token][to] += amount
        log EscrowCredited(account=to, token=token, amount=amount)


@internal
def _call_token(token: address, payload: Bytes[100]) -> bool:
    # raw_call instead of the IERC20 interface: USDT-style tokens return no
    # data, which a typed call would reject. Empty or true is success.
    ok: bool = False
    ret: Bytes[32] = b""
    ok, ret = raw_call(token, payload, max_outsize=32, revert_on_failure=False)
    if not ok:
        return False
    if len(ret) != 0:
        return abi_decode(ret, bool)
    return True


# ------------------------------------------------------------------ views


@view
@external
def getOrder(
    id: bytes32,
) -> (address, address, address, uint256, uint256, uint256, uint8):
    """
    @notice (token, buyer, seller, amount, fee, release_at, state); state 0
            none, 1 funded, 2 disputed, 3 released, 4 refunded, 5 resolved.
            All zero for an unknown id.
    """
    o: Order = self._orders[id]
    return o.token, o.buyer, o.seller, o.amount, o.fee, o.release_at, o.state


@view
@external
def orderId(depositor: address, ref: bytes32) -> bytes32:
    """
    @notice The id a deposit by `depositor` for `ref` gets (design decision 1).
    """
    return keccak256(abi_encode(chain.id, self, depositor, ref))

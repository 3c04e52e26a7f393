# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Test-only ERC-20 with an ERC-777-style callback on every transfer
@notice During transfer/transferFrom it replays the configured call
        (`hook_target`, `hook_data`) once, e.g. HTLC.redeem, and records
        whether the reentrant call succeeded. Proves a malicious token
        cannot reenter HTLC while it is moving funds. Tests only.
"""

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
hook_target: public(address)
hook_data: public(Bytes[256])
hook_attempts: public(uint256)
hook_successes: public(uint256)
_in_hook: bool


@external
def mint(to: address, amount: uint256):
    self.balanceOf[to] += amount


@external
def set_hook(target: address, data: Bytes[256]):
    self.hook_target = target
    self.hook_data = data


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True


@external
def transfer(to: address, amount: uint256) -> bool:
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    self._hook()
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount
    self._hook()
    return True


@internal
def _hook():
    if self.hook_target == empty(address) or self._in_hook:
        return
    self._in_hook = True
    self.hook_attempts += 1
    ok: bool = raw_call(self.hook_target, self.hook_data, revert_on_failure=False)
    if ok:
        self.hook_successes += 1
    self._in_hook = False

# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Test-only contract wallet for Escrow tests
@notice Acts as a buyer or seller through `execute`. While `reject` is set it
        refuses native coin (as a contract wallet without a receive function
        does), so an escrow payout to it cannot be delivered. While a hook is
        set it replays that call once on every coin it accepts, recording
        whether the reentrant call succeeded. Tests only.
"""

reject: public(bool)
hook_target: public(address)
hook_data: public(Bytes[256])
hook_attempts: public(uint256)
hook_successes: public(uint256)
received: public(uint256)
_in_hook: bool


@external
def set_reject(reject_: bool):
    self.reject = reject_


@external
def set_hook(target: address, data: Bytes[256]):
    self.hook_target = target
    self.hook_data = data


@external
@payable
def execute(target: address, data: Bytes[512]) -> Bytes[32]:
    return raw_call(target, data, value=msg.value, max_outsize=32)


@external
@payable
def __default__():
    assert not self.reject, "rejected"
    self.received += msg.value
    if self.hook_target == empty(address) or self._in_hook:
        return
    self._in_hook = True
    self.hook_attempts += 1
    ok: bool = raw_call(self.hook_target, self.hook_data, revert_on_failure=False)
    if ok:
        self.hook_successes += 1
    self._in_hook = False

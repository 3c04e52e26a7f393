# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Test-only reentrancy attacker for native-coin payouts
@notice Can act as an HTLC sender (via `execute`) or recipient. Whenever it
        receives coin it replays the configured call (`hook_target`,
        `hook_data`) once, e.g. HTLC.redeem on the same or another lock, and
        records whether that reentrant call succeeded instead of reverting,
        so the outer payout still completes and the test can inspect what
        the reentry achieved.
"""

hook_target: public(address)
hook_data: public(Bytes[256])
hook_attempts: public(uint256)
hook_successes: public(uint256)
received: public(uint256)
_in_hook: bool


@external
def set_hook(target: address, data: Bytes[256]):
    self.hook_target = target
    self.hook_data = data


@external
@payable
def execute(target: address, data: Bytes[512]) -> Bytes[32]:
    # Lets the attacker be msg.sender of HTLC.lock / lockToken / refund.
    return raw_call(target, data, value=msg.value, max_outsize=32)


@external
@payable
def __default__():
    self.received += msg.value
    if self.hook_target == empty(address) or self._in_hook:
        return
    self._in_hook = True
    self.hook_attempts += 1
    ok: bool = raw_call(self.hook_target, self.hook_data, revert_on_failure=False)
    if ok:
        self.hook_successes += 1
    self._in_hook = False

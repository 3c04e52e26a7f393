# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Test-only contract that rejects every native-coin transfer
@notice No __default__ function, so any plain value transfer reverts. Used
        as an HTLC recipient to show redeem reverts with "transfer failed"
        while the sender can still refund after the timelock.
"""


@external
@view
def ping() -> bool:
    return True

# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Test-only ERC-20 that signals failure by returning false
@notice Behaves normally until `fail` is set; then transfer/transferFrom
        move nothing and return false instead of reverting (as some old
        tokens do). HTLC must treat false as a failed transfer. Tests only.
"""

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
fail: public(bool)


@external
def mint(to: address, amount: uint256):
    self.balanceOf[to] += amount


@external
def set_fail(fail_: bool):
    self.fail = fail_


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True


@external
def transfer(to: address, amount: uint256) -> bool:
    if self.fail:
        return False
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    if self.fail:
        return False
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount
    return True

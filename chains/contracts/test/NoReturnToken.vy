# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Test-only USDT-style ERC-20 whose transfer/transferFrom return nothing
@notice A typed IERC20 call would reject the empty return data; HTLC must
        accept it. Failures revert, as in USDT. Open mint; tests only.
"""

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])


@external
def mint(to: address, amount: uint256):
    self.balanceOf[to] += amount


@external
def approve(spender: address, amount: uint256):
    self.allowance[msg.sender][spender] = amount


@external
def transfer(to: address, amount: uint256):
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[to] += amount


@external
def transferFrom(owner: address, to: address, amount: uint256):
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount

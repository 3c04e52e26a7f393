# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Test-only ERC-20 that burns 1% of every transfer (deflationary)
@notice Used to prove HTLC.lockToken refuses tokens where the amount that
        arrives differs from the amount requested. Open mint; tests only.
"""

FEE_BPS: constant(uint256) = 100

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)


@external
def mint(to: address, amount: uint256):
    self.balanceOf[to] += amount
    self.totalSupply += amount


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    return True


@external
def transfer(to: address, amount: uint256) -> bool:
    self._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    self.allowance[owner][msg.sender] -= amount
    self._transfer(owner, to, amount)
    return True


@internal
def _transfer(owner: address, to: address, amount: uint256):
    fee: uint256 = amount * FEE_BPS // 10000
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount - fee
    self.totalSupply -= fee

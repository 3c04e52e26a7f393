# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Test-only EIP-1271 smart-contract wallet
@notice Accepts a signature when its single owner key signed the digest.
        Used to test SIWE sign-in of contract wallets.
"""

MAGIC: constant(bytes4) = 0x1626ba7e
INVALID: constant(bytes4) = 0xffffffff

owner: public(address)


@deploy
def __init__(owner: address):
    self.owner = owner


@external
@view
def isValidSignature(digest: bytes32, signature: Bytes[65]) -> bytes4:
    if len(signature) != 65:
        return INVALID
    r: bytes32 = extract32(signature, 0)
    s: bytes32 = extract32(signature, 32)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    if ecrecover(digest, v, r, s) == self.owner:
        return MAGIC
    return INVALID

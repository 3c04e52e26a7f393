"""Who signed a message: EIP-191 recovery for keys, EIP-1271 for contract wallets.

The rest of the project (SIWE sign-in in ``accounts``) calls
:func:`personal_signature_is_valid` and gets a bool back; no eth-account or
web3 object crosses this module's boundary.
"""

from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import defunct_hash_message, encode_defunct
from eth_utils import is_address, to_checksum_address
from requests.exceptions import RequestException
from web3.exceptions import ContractLogicError, Web3Exception

from chains.evm import web3_for
from chains.interface import ChainUnavailable
from chains.networks import Network

# secp256k1's group order; EIP-2 accepts only s <= N/2, so each signature has one form.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# bytes4(keccak256("isValidSignature(bytes32,bytes)")): both the selector and the magic answer.
EIP1271_MAGIC = bytes.fromhex("1626ba7e")


def parse_signature(signature: str) -> bytes | None:
    """A 0x-prefixed hex signature as bytes, or None when it is not hex or is empty.

    Side effects: none. Raises: nothing.
    """
    if not isinstance(signature, str) or not signature.startswith("0x"):
        return None
    try:
        raw = bytes.fromhex(signature[2:])
    except ValueError:
        return None
    return raw or None


def personal_message_hash(message: str) -> bytes:
    """The EIP-191 (version 0x45, ``personal_sign``) hash of ``message``."""
    return bytes(defunct_hash_message(text=message))


def recover_personal_signer(message: str, signature: bytes) -> str | None:
    """The checksummed address whose key made the ``personal_sign`` ``signature``.

    Returns None when the signature cannot be recovered (wrong length, bad ``v``,
    ``s`` out of range) or is the high-``s`` twin of a valid one (EIP-2: ``s`` above N/2
    is refused, so a signature cannot be re-encoded into a second valid form).
    Side effects: none. Raises: nothing.
    """
    if len(signature) != 65:
        return None
    if int.from_bytes(signature[32:64], "big") > SECP256K1_N // 2:
        return None
    try:
        return str(Account.recover_message(encode_defunct(text=message), signature=signature))
    except Exception:  # eth-keys raises several error types for malformed signatures
        return None


def has_code(network: Network, address: str) -> bool:
    """Whether ``address`` holds contract code on ``network``.

    Raises ``ChainUnavailable`` when the network's RPC cannot answer.
    """
    try:
        code = web3_for(network).eth.get_code(to_checksum_address(address))
    except (RequestException, Web3Exception, OSError) as exc:
        raise ChainUnavailable(f"{network.name}: {type(exc).__name__}") from exc
    return len(code) > 0


def eip1271_is_valid(network: Network, address: str, digest: bytes, signature: bytes) -> bool:
    """Ask the contract at ``address`` whether ``signature`` over ``digest`` is its own.

    True only when ``isValidSignature(digest, signature)`` returns the EIP-1271
    magic value ``0x1626ba7e``; a revert or any other answer is False.
    Raises ``ChainUnavailable`` when the network's RPC cannot answer.
    """
    data = EIP1271_MAGIC + abi_encode(["bytes32", "bytes"], [digest, signature])
    try:
        answer = web3_for(network).eth.call({"to": to_checksum_address(address), "data": data})
    except ContractLogicError:
        return False
    except (RequestException, Web3Exception, OSError) as exc:
        raise ChainUnavailable(f"{network.name}: {type(exc).__name__}") from exc
    return bytes(answer[:4]) == EIP1271_MAGIC


def personal_signature_is_valid(
    *, network: Network, address: str, message: str, signature: str
) -> bool:
    """Whether ``address`` signed ``message`` (EIP-191 ``personal_sign``).

    A key's signature is checked offline by recovery. Otherwise, when the
    address holds code on ``network``, the contract is asked (EIP-1271), so
    smart-contract wallets can sign in too.

    Preconditions: ``network`` is a configured network (the chain id of the message).
    Side effects: at most two JSON-RPC calls, only when recovery does not match.
    Raises ``ChainUnavailable`` when the contract check is needed and the RPC is down.
    """
    raw = parse_signature(signature)
    if raw is None or not is_address(address):
        return False
    signer = recover_personal_signer(message, raw)
    if signer is not None and signer.lower() == address.lower():
        return True
    if not has_code(network, address):
        return False
    return eip1271_is_valid(network, address, personal_message_hash(message), raw)


def checksum_address(address: str) -> str | None:
    """``address`` in EIP-55 form, or None when it is not a 20-byte hex address.

    Any letter case is accepted; the answer is always the canonical checksummed form.
    """
    if not isinstance(address, str) or not is_address(address):
        return None
    return str(to_checksum_address(address))

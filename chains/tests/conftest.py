"""Fixtures for the HTLC contract tests.

Two backends drive the same tests through one small :class:`Chain` API:

* ``eth_tester``: an in-process py-evm chain, fresh for every test;
* ``anvil``: one real anvil node per test session over HTTP JSON-RPC,
  isolated per test with ``evm_snapshot`` / ``evm_revert``.

Every transaction is built by web3, signed locally with a real eth-account
key and sent with ``eth_sendRawTransaction``, as production wallets and bots
do; nothing relies on node-side unlocked accounts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from chains.anvil import AnvilNotFoundError, AnvilProcess, free_port, start_anvil
from chains.compiler import compile_contract

ZERO_ADDRESS = "0x" + "00" * 20
STATE_NONE, STATE_LOCKED, STATE_REDEEMED, STATE_REFUNDED = 0, 1, 2, 3

ANVIL_CHAIN_ID = 31337
# anvil's built-in, publicly known dev mnemonic: local test keys only.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
# Same fork as eth-tester's py-evm backend so gas figures are comparable.
ANVIL_HARDFORK = "prague"

Account.enable_unaudited_hdwallet_features()


# --------------------------------------------------------------- helpers


def make_secret(seed: int) -> tuple[bytes, bytes]:
    """Return (preimage, hashlock) with the BIP-199 rule hashlock = sha256(preimage)."""
    preimage = keccak(seed.to_bytes(32, "big"))
    return preimage, sha256(preimage).digest()


def expected_lock_id(
    *,
    chain_id: int,
    htlc: str,
    token: str,
    sender: str,
    recipient: str,
    amount: int,
    hashlock: bytes,
    timelock: int,
) -> bytes:
    """The documented id formula, computed independently of the contract."""
    return keccak(
        abi_encode(
            [
                "uint256",
                "address",
                "address",
                "address",
                "address",
                "uint256",
                "bytes32",
                "uint256",
            ],
            [chain_id, htlc, token, sender, recipient, amount, hashlock, timelock],
        )
    )


_REASON_RE = re.compile(r"execution reverted(?::\s*(.*))?", re.DOTALL)
_ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


class TxFailed(AssertionError):
    """A transaction was mined with status 0."""

    def __init__(self, receipt: TxReceipt, reason: str | None) -> None:
        super().__init__(
            f"transaction reverted on chain ({reason!r}): {receipt['transactionHash']!r}"
        )
        self.receipt = receipt
        self.reason = reason


def decode_revert_data(data: bytes) -> str | None:
    """Decode Error(string) revert data; None for empty data (bare revert)."""
    if not data:
        return None
    if data[:4] != _ERROR_SELECTOR:
        return f"<custom error 0x{data.hex()}>"
    (reason,) = abi_decode(["string"], data[4:])
    return reason


def revert_reason(exc: BaseException) -> str | None:
    """Extract the revert string from an eth-tester, JSON-RPC or mined-transaction revert."""
    if isinstance(exc, TxFailed):
        return exc.reason
    text = str(exc.args[0]) if exc.args else str(exc)
    match = _REASON_RE.search(text)
    if match is None:
        raise AssertionError(f"not a revert: {exc!r}") from exc
    reason = match.group(1)
    if reason is None or reason.strip() in ("", "b''", 'b""'):
        return None
    return reason.strip()


class RevertExpected(AssertionError):
    """A call that should have reverted went through."""


# ------------------------------------------------------------------ Chain


@dataclass
class Chain:
    """Backend-neutral test driver around a ``Web3``."""

    name: str
    w3: Web3
    accounts: list[LocalAccount]

    # -- contracts

    def deploy(self, contract_name: str, *args: Any, sender: LocalAccount) -> Contract:
        compiled = compile_contract(contract_name)
        factory = self.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        receipt = self.transact(factory.constructor(*args), sender=sender)
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=compiled.abi)

    # -- transactions

    def _build(self, call: Any, sender: LocalAccount, value: int, gas: int | None) -> dict:
        params: dict[str, Any] = {
            "from": sender.address,
            "value": value,
            "nonce": self.w3.eth.get_transaction_count(sender.address, "pending"),
        }
        if gas is not None:
            params["gas"] = gas
        if isinstance(call, dict):
            # Raw call data (e.g. value sent to a non-payable function, which
            # web3's typed builder refuses client-side).
            tx = {**call, **params, "chainId": self.w3.eth.chain_id}
            if gas is None:
                tx["gas"] = self.w3.eth.estimate_gas(tx)
            fees = self.w3.eth.max_priority_fee
            tx["maxPriorityFeePerGas"] = fees
            tx["maxFeePerGas"] = fees + 2 * self.w3.eth.get_block("latest")["baseFeePerGas"]
            return tx
        return call.build_transaction(params)

    def transact(
        self,
        call: Any,
        *,
        sender: LocalAccount,
        value: int = 0,
        gas: int | None = None,
        check: bool = True,
    ) -> TxReceipt:
        """Sign ``call`` with ``sender``'s key, send it raw and wait for the receipt.

        Gas is estimated unless given, so a revert surfaces as an exception
        before anything is mined; pass ``gas`` to mine a failing transaction.
        """
        tx = self._build(call, sender, value, gas)
        signed = sender.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        if check and receipt["status"] != 1:
            raise TxFailed(receipt, self.failure_reason(receipt))
        return receipt

    def failure_reason(self, receipt: TxReceipt) -> str | None:
        """Revert reason of a mined, failed transaction."""
        raise NotImplementedError

    def expect_revert(
        self, call: Any, reason: str | None, *, sender: LocalAccount, value: int = 0
    ) -> None:
        """Assert that sending ``call`` reverts with exactly ``reason`` (None: no reason)."""
        try:
            self.transact(call, sender=sender, value=value)
        except Exception as exc:
            assert revert_reason(exc) == reason, f"wrong revert: {exc!r}"
        else:
            raise RevertExpected(f"expected revert {reason!r}, but the transaction succeeded")

    # -- state and time

    def balance(self, address: str) -> int:
        return self.w3.eth.get_balance(to_checksum_address(address))

    @staticmethod
    def gas_cost(receipt: TxReceipt) -> int:
        return receipt["gasUsed"] * receipt["effectiveGasPrice"]

    def now(self) -> int:
        """Timestamp of the latest mined block."""
        return self.w3.eth.get_block("latest")["timestamp"]

    def block_time(self, receipt: TxReceipt) -> int:
        return self.w3.eth.get_block(receipt["blockNumber"])["timestamp"]

    def set_next_timestamp(self, timestamp: int) -> None:
        """Make the next transaction execute in a block with exactly ``timestamp``."""
        raise NotImplementedError

    def advance(self, seconds: int) -> None:
        """Let ``seconds`` pass and mine a block."""
        raise NotImplementedError

    @property
    def chain_id(self) -> int:
        return self.w3.eth.chain_id


class EthTesterChain(Chain):
    # py-evm estimates gas by binary search (~12 executions per estimate),
    # which was most of the suite's run time. Instead: one eth_call on the
    # pending block to surface any revert with its reason, then a fixed limit.
    # gasUsed does not depend on the limit, so gas figures are unaffected.
    FIXED_GAS = 5_000_000

    def transact(
        self,
        call: Any,
        *,
        sender: LocalAccount,
        value: int = 0,
        gas: int | None = None,
        check: bool = True,
    ) -> TxReceipt:
        if gas is None:
            self._preflight(call, sender, value)
            gas = self.FIXED_GAS
        return super().transact(call, sender=sender, value=value, gas=gas, check=check)

    def _preflight(self, call: Any, sender: LocalAccount, value: int) -> None:
        tx: dict[str, Any] = {"from": sender.address, "value": value}
        if isinstance(call, dict):
            self.w3.eth.call({**call, **tx}, "pending")
        elif hasattr(call, "call"):
            call.call(tx, block_identifier="pending")
        # constructors have no .call(); our own deployments are not expected to revert

    def failure_reason(self, receipt: TxReceipt) -> str | None:
        # py-evm keeps no traces; tests that mine failing transactions on
        # eth-tester only look at the status.
        return "<unknown: eth-tester keeps no trace>"

    def set_next_timestamp(self, timestamp: int) -> None:
        # py-evm mines a block at timestamp - 1; the pending block is at timestamp.
        self.w3.provider.ethereum_tester.time_travel(timestamp)

    def advance(self, seconds: int) -> None:
        self.w3.provider.ethereum_tester.time_travel(self.now() + seconds)


class AnvilChain(Chain):
    _pinned_timestamp: bool = False

    def transact(
        self,
        call: Any,
        *,
        sender: LocalAccount,
        value: int = 0,
        gas: int | None = None,
        check: bool = True,
    ) -> TxReceipt:
        if self._pinned_timestamp and gas is None:
            # anvil's eth_estimateGas ignores evm_setNextBlockTimestamp, so at a
            # pinned boundary the estimate would run at the wrong time: mine
            # with a fixed limit instead and read any revert from the trace.
            gas = 1_000_000
        self._pinned_timestamp = False
        return super().transact(call, sender=sender, value=value, gas=gas, check=check)

    def failure_reason(self, receipt: TxReceipt) -> str | None:
        trace = self.rpc(
            "debug_traceTransaction",
            [receipt["transactionHash"].to_0x_hex(), {"tracer": "callTracer"}],
        )
        return decode_revert_data(bytes.fromhex(trace.get("output", "0x")[2:]))

    def rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(method, params)
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response["result"]

    def set_next_timestamp(self, timestamp: int) -> None:
        self.rpc("evm_setNextBlockTimestamp", [timestamp])
        self._pinned_timestamp = True

    def advance(self, seconds: int) -> None:
        self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine", [])


# --------------------------------------------------------------- backends


@pytest.fixture
def tester_w3() -> Web3:
    """A fresh in-process eth-tester (py-evm) chain."""
    return Web3(EthereumTesterProvider())


@pytest.fixture
def tester_chain(tester_w3: Web3) -> EthTesterChain:
    keys = tester_w3.provider.ethereum_tester.backend.account_keys
    accounts = [Account.from_key(key.to_bytes()) for key in keys]
    return EthTesterChain(name="eth_tester", w3=tester_w3, accounts=accounts)


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[AnvilProcess]:
    """One anvil node for the whole session, started via chains.anvil."""
    try:
        node = start_anvil(
            port=free_port(), chain_id=ANVIL_CHAIN_ID, extra_args=("--hardfork", ANVIL_HARDFORK)
        )
    except AnvilNotFoundError as exc:
        pytest.fail(f"{exc}: run `make test` (it runs npm ci)", pytrace=False)
    with node:
        yield node


@pytest.fixture(scope="session")
def anvil_w3(anvil_node: AnvilProcess) -> Web3:
    """Web3 connected to the session's anvil over HTTP JSON-RPC."""
    w3 = Web3(Web3.HTTPProvider(anvil_node.rpc_url, request_kwargs={"timeout": 30}))
    assert w3.eth.chain_id == ANVIL_CHAIN_ID
    return w3


@pytest.fixture(scope="session")
def anvil_accounts() -> list[LocalAccount]:
    return [
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(6)
    ]


@pytest.fixture
def anvil_chain(anvil_w3: Web3, anvil_accounts: list[LocalAccount]) -> Iterator[AnvilChain]:
    """The session anvil, rolled back to its pre-test state afterwards."""
    chain = AnvilChain(name="anvil", w3=anvil_w3, accounts=anvil_accounts)
    snapshot = chain.rpc("evm_snapshot", [])
    try:
        yield chain
    finally:
        assert chain.rpc("evm_revert", [snapshot]) is True


BACKENDS = [
    pytest.param("tester_chain", id="eth_tester"),
    pytest.param("anvil_chain", id="anvil", marks=pytest.mark.slow),
]


@pytest.fixture(params=BACKENDS)
def chain(request: pytest.FixtureRequest) -> Chain:
    """Each test using this runs once on eth-tester and once on anvil."""
    return request.getfixturevalue(request.param)


# ------------------------------------------------------------ actors etc.


@pytest.fixture
def owner(chain: Chain) -> LocalAccount:
    return chain.accounts[0]


@pytest.fixture
def alice(chain: Chain) -> LocalAccount:
    """Swap initiator: the lock's sender."""
    return chain.accounts[1]


@pytest.fixture
def bob(chain: Chain) -> LocalAccount:
    """Counterparty: the lock's recipient."""
    return chain.accounts[2]


@pytest.fixture
def carol(chain: Chain) -> LocalAccount:
    """Unrelated third party (e.g. a relayer bot)."""
    return chain.accounts[3]


@pytest.fixture
def mallory(chain: Chain) -> LocalAccount:
    """Attacker."""
    return chain.accounts[4]


@pytest.fixture
def htlc(chain: Chain, owner: LocalAccount) -> Contract:
    return chain.deploy("HTLC", sender=owner)


TOKEN_SUPPLY = 1_000 * 10**18


@pytest.fixture
def token(chain: Chain, htlc: Contract, owner: LocalAccount, alice: LocalAccount) -> Contract:
    """TestToken with TOKEN_SUPPLY minted to alice, who approved the HTLC for all of it."""
    tok = chain.deploy("TestToken", "Test Token", "TST", 18, sender=owner)
    chain.transact(tok.functions.mint(alice.address, TOKEN_SUPPLY), sender=owner)
    chain.transact(tok.functions.approve(htlc.address, TOKEN_SUPPLY), sender=alice)
    return tok


# ---------------------------------------------------------- lock helpers


@dataclass(frozen=True)
class LockInfo:
    """What a test knows about a lock it created."""

    id: bytes
    token: str
    sender: str
    recipient: str
    amount: int
    hashlock: bytes
    timelock: int
    preimage: bytes
    receipt: TxReceipt

    def as_tuple(self, state: int) -> tuple:
        """The exact tuple getLock must return for this lock in ``state``."""
        return (
            self.token,
            self.sender,
            self.recipient,
            self.amount,
            self.hashlock,
            self.timelock,
            state,
        )


def lock_native(
    chain: Chain,
    htlc: Contract,
    *,
    sender: LocalAccount,
    recipient: str,
    amount: int = 10**18,
    ttl: int = 3600,
    seed: int = 1,
) -> LockInfo:
    """Lock native coin via ``htlc.lock`` and check the returned id against the event."""
    preimage, hashlock = make_secret(seed)
    timelock = chain.now() + ttl
    call = htlc.functions.lock(recipient, hashlock, timelock)
    predicted = call.call({"from": sender.address, "value": amount})
    receipt = chain.transact(call, sender=sender, value=amount)
    (event,) = htlc.events.Locked().process_receipt(receipt, errors=DISCARD)
    assert event.args.id == predicted
    return LockInfo(
        predicted,
        ZERO_ADDRESS,
        sender.address,
        recipient,
        amount,
        hashlock,
        timelock,
        preimage,
        receipt,
    )


def lock_erc20(
    chain: Chain,
    htlc: Contract,
    token: Contract,
    *,
    sender: LocalAccount,
    recipient: str,
    amount: int = 10**18,
    ttl: int = 3600,
    seed: int = 1,
) -> LockInfo:
    """Lock ``amount`` of ``token`` via ``htlc.lockToken`` (allowance must be in place)."""
    preimage, hashlock = make_secret(seed)
    timelock = chain.now() + ttl
    call = htlc.functions.lockToken(token.address, recipient, amount, hashlock, timelock)
    predicted = call.call({"from": sender.address})
    receipt = chain.transact(call, sender=sender)
    (event,) = htlc.events.Locked().process_receipt(receipt, errors=DISCARD)
    assert event.args.id == predicted
    return LockInfo(
        predicted,
        token.address,
        sender.address,
        recipient,
        amount,
        hashlock,
        timelock,
        preimage,
        receipt,
    )


@pytest.fixture(scope="session", autouse=True)
def _collected_static(request: pytest.FixtureRequest) -> None:
    """Let the contract tests run without Django (``-p no:django``).

    The root conftest's autouse fixture of the same name runs collectstatic
    through pytest-django. These tests render no pages, so it is only
    delegated to when the django plugin is loaded.
    """
    if request.config.pluginmanager.hasplugin("django"):
        try:
            # Resolves to the overridden root-conftest fixture.
            request.getfixturevalue("_collected_static")
        except pytest.FixtureLookupError:
            pass  # no root fixture of that name: nothing to delegate to

"""Read Chainlink price feeds (``AggregatorV3Interface``) on an EVM network.

Pure reading: what the feed says is returned as it is, in a frozen ``RoundData``.
Whether an answer is usable (positive, complete, fresh) is the caller's policy
(``oracle.sources.chainlink``).

The chain id and the feed's ``latestRoundData``, ``decimals`` and ``description``
are asked in one JSON-RPC batch: one HTTP request, bounded by ``CHAIN_RPC_TIMEOUT``
and not retried (web3 retries single ``eth_call``s up to five times with sleeps,
which would hold an oracle refresh for seconds while the RPC is down).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3Exception

from chains.evm import web3_for
from chains.networks import Network

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")

# The part of Chainlink's AggregatorV3Interface that is read here.
AGGREGATOR_V3_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "decimals",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    },
    {
        "type": "function",
        "name": "description",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "string"}],
    },
    {
        "type": "function",
        "name": "latestRoundData",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": "roundId", "type": "uint80"},
            {"name": "answer", "type": "int256"},
            {"name": "startedAt", "type": "uint256"},
            {"name": "updatedAt", "type": "uint256"},
            {"name": "answeredInRound", "type": "uint80"},
        ],
    },
]


class FeedError(Exception):
    """A feed could not be read."""


class FeedUnavailable(FeedError):
    """The network's RPC could not be reached, timed out, answered with an error, or
    answers for another chain than configured. Retrying later may work."""


class FeedInvalid(FeedError):
    """The address does not answer like an AggregatorV3Interface feed (no contract,
    a revert, an answer that does not decode). Retrying will most likely not help."""


@dataclass(frozen=True)
class RoundData:
    """A feed's latest round, as the contract reports it.

    ``answer`` is the raw integer (price = answer * 10**-decimals); ``started_at`` and
    ``updated_at`` are Unix seconds (0 when the round is not complete).
    """

    round_id: int
    answer: int
    decimals: int
    started_at: int
    updated_at: int
    answered_in_round: int
    description: str


def chainlink_latest_round(*, network: Network, address: str) -> RoundData:
    """Read the latest round of the Chainlink feed at ``address`` on ``network``.

    Preconditions: ``address`` is a 0x-prefixed 20-byte hex address (any case).
    Side effects: one JSON-RPC batch request to ``network.rpc_url`` (``eth_chainId``
    and three ``eth_call``s at the latest block), not retried.
    Raises ``ValueError`` for a malformed address, ``FeedUnavailable`` when the RPC
    fails or reports another chain id, ``FeedInvalid`` when the address does not
    answer like a feed.
    """
    if not isinstance(address, str) or not _ADDRESS_RE.match(address):
        raise ValueError(f"not an EVM address: {address!r}")
    w3 = web3_for(network)
    feed = w3.eth.contract(address=Web3.to_checksum_address(address), abi=AGGREGATOR_V3_ABI)
    where = f"{network.name} feed {address}"
    try:
        with w3.batch_requests() as batch:
            batch.add(w3.eth.chain_id)
            batch.add(feed.functions.latestRoundData())
            batch.add(feed.functions.decimals())
            batch.add(feed.functions.description())
            # Decoded by web3 per call; its type says RPCResponse for all of them.
            answers: list[Any] = list(batch.execute())
        chain_id, latest, decimals, description = answers
    except (ContractLogicError, BadFunctionCallOutput) as exc:
        raise FeedInvalid(f"{where} does not answer like a price feed: {exc}") from exc
    except (requests.RequestException, OSError, Web3Exception, ValueError) as exc:
        raise FeedUnavailable(f"{where}: RPC failed: {type(exc).__name__}: {exc}") from exc
    if int(chain_id) != network.chain_id:
        raise FeedUnavailable(
            f"{where}: RPC answers for chain id {int(chain_id)}, expected {network.chain_id}"
        )
    round_id, answer, started_at, updated_at, answered_in_round = latest
    return RoundData(
        round_id=int(round_id),
        answer=int(answer),
        decimals=int(decimals),
        started_at=int(started_at),
        updated_at=int(updated_at),
        answered_in_round=int(answered_in_round),
        description=str(description),
    )

"""Compile the Vyper contracts in ``chains/contracts`` on demand.

Compiled artefacts are never committed: they are produced here, at build,
deploy or test time, from the source in the tree, and cached for the life of
the process. ``source_hash`` and :func:`runtime_code_hash` let callers check
that what is deployed on a chain is exactly what this tree compiles to.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vyper
from eth_utils import keccak

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"

# Either "Name" (production contract) or "test/Name" (test-only contract).
# Being strict here also rules out path traversal through the name.
_NAME_RE = re.compile(r"^(?:test/)?[A-Za-z][A-Za-z0-9_]*$")


class ContractNotFoundError(LookupError):
    """No ``<name>.vy`` exists under ``chains/contracts``."""


@dataclass(frozen=True)
class CompiledContract:
    """Compiler output for one contract.

    ``abi`` is a fresh list on every :func:`compile_contract` call, so callers
    may hand it to web3 (or mutate it) without corrupting the shared cache.
    ``bytecode`` is the 0x-prefixed deployment (init) code. ``source_hash`` is
    the 0x-prefixed sha256 of the exact source text compiled.
    """

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    source_hash: str


def source_path(name: str) -> Path:
    """Return the path of contract ``name`` (e.g. ``"HTLC"`` or ``"test/NoReturnToken"``).

    Raises:
        ValueError: ``name`` is not of the form ``Name`` or ``test/Name``.
        ContractNotFoundError: there is no such ``.vy`` file.
    """
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"invalid contract name {name!r}")
    path = CONTRACTS_DIR / f"{name}.vy"
    if not path.is_file():
        raise ContractNotFoundError(f"no contract {name!r} at {path}")
    return path


# vyper keeps its settings in module globals, so two compiles at once (even of different
# contracts) corrupt each other; and functools.cache alone lets two cold callers both compile.
# One process-wide lock makes every compile run alone, and once per name.
_COMPILE_LOCK = threading.Lock()


def _compile(name: str) -> tuple[str, str, str, str]:
    with _COMPILE_LOCK:
        return _compile_once(name)


@functools.cache
def _compile_once(name: str) -> tuple[str, str, str, str]:
    # Cached as immutable strings; the ABI is re-parsed per caller (cheap) so
    # the cache can never be mutated through a returned object.
    src = source_path(name).read_text(encoding="utf-8")
    out = vyper.compile_code(src, output_formats=["abi", "bytecode", "bytecode_runtime"])
    source_hash = "0x" + hashlib.sha256(src.encode("utf-8")).hexdigest()
    return json.dumps(out["abi"]), out["bytecode"], out["bytecode_runtime"], source_hash


def compile_contract(name: str) -> CompiledContract:
    """Compile contract ``name`` with the installed vyper (cached per process).

    Preconditions: ``chains/contracts/<name>.vy`` exists and declares the
    vyper version installed (``# pragma version``).
    Side effects: the first call per name runs the compiler (~0.1-0.5 s); concurrent
    callers wait for it (one compile at a time per process) and share its output.

    Raises:
        ValueError: malformed name.
        ContractNotFoundError: no such source file.
        vyper.exceptions.VyperException: the source does not compile.
    """
    abi_json, bytecode, _runtime, source_hash = _compile(name)
    return CompiledContract(
        name=name, abi=json.loads(abi_json), bytecode=bytecode, source_hash=source_hash
    )


def runtime_code_hash(name: str) -> bytes:
    """Return keccak256 of the runtime code contract ``name`` deploys.

    Compare it with ``keccak(eth_getCode(address))`` to check a deployed
    address runs exactly this source. Valid for contracts without
    ``immutable`` variables (vyper appends immutables to the runtime code at
    deploy time); ``HTLC`` has none.

    Raises: as :func:`compile_contract`.
    """
    _abi, _bytecode, runtime, _source_hash = _compile(name)
    return keccak(hexstr=runtime)


def compiler_version() -> str:
    """Return the installed vyper version (e.g. ``"0.4.3"``), for deploy records and docs."""
    return str(vyper.__version__)


def clear_cache() -> None:
    """Forget compiled output, e.g. after editing a contract in a long-lived process."""
    with _COMPILE_LOCK:
        _compile_once.cache_clear()


__all__ = [
    "CONTRACTS_DIR",
    "CompiledContract",
    "ContractNotFoundError",
    "clear_cache",
    "compile_contract",
    "compiler_version",
    "runtime_code_hash",
    "source_path",
]

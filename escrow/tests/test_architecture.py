"""The escrow app keeps the project's rules (core/tests/test_architecture.py does not know
it yet: see docs/escrow.md): its layer, no chain library, no test double, one state writer."""

from __future__ import annotations

import ast
from pathlib import Path

from core.tests.test_architecture import CHAIN_LIBRARIES, imported_names
from testing.code_scan import state_writes

APP = Path(__file__).resolve().parents[1]
# escrow sits beside marketplace: it may import the layers below, never marketplace, swaps
# or config (the composition root imports it, not the other way round).
MAY_IMPORT = {"core", "chains", "accounts", "oracle", "escrow"}
PROJECT = {"core", "chains", "accounts", "oracle", "marketplace", "swaps", "config", "testing"}


def _production() -> dict[str, set[str]]:
    found = {}
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        if "tests" in parts or "migrations" in parts:
            continue
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[module] = imported_names(
            path.read_text(), module, is_package=path.name == "__init__.py"
        )
    return found


def test_escrow_production_code_sees_the_scan():
    assert "escrow.services" in _production() and "escrow.chain" in _production()


def test_escrow_imports_only_the_layers_below_it_and_no_chain_library():
    offenders = sorted(
        (module, name)
        for module, names in _production().items()
        for name in names
        if (root := name.split(".")[0]) in CHAIN_LIBRARIES
        or (root in PROJECT | {"escrow"} and root not in MAY_IMPORT)
        or ".tests" in f".{name}"
    )
    assert offenders == []


def test_only_order_transition_writes_an_order_state():
    writes = []
    for path in APP.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for func, _, what in state_writes(ast.parse(path.read_text()), "order_transition"):
            writes.append((str(path.relative_to(APP)), func, what))
    assert sorted(writes) == [
        ("services.py", "order_transition", "assign"),
        ("services.py", "order_transition", "update"),
    ]

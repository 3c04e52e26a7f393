"""The shape of the code, held by tests: who may import whom, and who writes a swap's state.

Imports are read from the source (every ``import`` statement, at any depth: an import
inside a function to dodge a cycle is still a dependency), for production modules only:
tests, migrations, ``bench/`` and the ``testing/`` package of test doubles are excluded.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_APPS = {"accounts", "marketplace", "swaps", "oracle", "chains", "escrow"}
PACKAGES = {*DOMAIN_APPS, "core", "config", "ops", "testing"}
# Which apps each app may import: each layer only from the layers below it.
LAYERS = {
    "core": set(),
    "chains": {"core"},
    "accounts": {"core", "chains"},
    "oracle": {"core", "chains"},
    "marketplace": {"core", "chains", "accounts", "oracle"},
    "swaps": {"core", "chains", "accounts", "oracle", "marketplace"},
    "escrow": {"core", "chains", "accounts", "oracle"},
    "ops": {"core", *DOMAIN_APPS},  # operations (backup, alerts) read every app
    "config": {"core", "ops", *DOMAIN_APPS},  # the composition root wires everything
}
CHAIN_LIBRARIES = {"web3", "eth_account", "eth_abi", "eth_keys", "eth_utils", "vyper", "ic"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_production(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return (
        parts[0] in PACKAGES
        and parts[0] != "testing"
        and "tests" not in parts
        and "migrations" not in parts
    )


def imported_names(source: str, module: str, *, is_package: bool) -> set[str]:
    """Every module name `source` imports (absolute; ``from a import b`` gives ``a`` and
    ``a.b``), wherever the import statement stands."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


@cache
def production_modules() -> dict[str, set[str]]:
    """Each production module of the project and the names it imports."""
    modules = {}
    for path in ROOT.rglob("*.py"):
        if ".venv" in path.parts or "node_modules" in path.parts or not _is_production(path):
            continue
        name = _module_name(path)
        modules[name] = imported_names(
            path.read_text(), name, is_package=path.name == "__init__.py"
        )
    return modules


def _project_module(name: str, known) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def module_graph() -> dict[str, set[str]]:
    """Production module → the production modules it imports."""
    modules = production_modules()
    return {
        name: {
            target
            for imported in imports
            if (target := _project_module(imported, modules)) and target != name
        }
        for name, imports in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# ------------------------------------------------------------------ the rules


def test_only_chains_imports_the_chain_libraries():
    # then: web3, eth-account, vyper, ic-py and their kin are imported only under chains/
    offenders = sorted(
        (module, imported)
        for module, imports in production_modules().items()
        if not module.startswith("chains")
        for imported in imports
        if imported.split(".")[0] in CHAIN_LIBRARIES
    )
    assert offenders == []


def test_core_imports_no_domain_app_and_no_config():
    offenders = sorted(
        (module, imported)
        for module, imports in production_modules().items()
        if module.split(".")[0] == "core"
        for imported in imports
        if imported.split(".")[0] in DOMAIN_APPS | {"config"}
    )
    assert offenders == []


def test_each_app_imports_only_the_layers_below_it():
    offenders = sorted(
        (module, target)
        for module, targets in module_graph().items()
        for target in targets
        if target.split(".")[0] != module.split(".")[0]
        and target.split(".")[0] not in LAYERS[module.split(".")[0]]
    )
    assert offenders == []


def test_no_import_cycles_between_modules():
    assert cycles(module_graph()) == []


def test_no_test_double_is_importable_from_production_code():
    # then: no production module imports the testing package or any app's tests
    offenders = sorted(
        (module, imported)
        for module, imports in production_modules().items()
        for imported in imports
        if imported.split(".")[0] == "testing" or ".tests" in f".{imported}"
    )
    assert offenders == []
    # and no test server or fixture file lives in a production package
    stray = [
        str(path.relative_to(ROOT))
        for app in PACKAGES - {"testing"}
        for path in (ROOT / app).rglob("*")
        if _is_production(path)
        and (path.name.endswith("testserver.py") or "fixtures" in path.relative_to(ROOT).parts)
    ]
    assert stray == []


def test_the_scanners_see_what_they_forbid():
    # given: a module that imports web3 inside a function, and two modules in a cycle
    imports = imported_names(
        "def f():\n    from web3 import Web3\n    from . import sibling\n",
        "core.views",
        is_package=False,
    )
    # then
    assert {"web3", "web3.Web3", "core", "core.sibling"} <= imports
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []

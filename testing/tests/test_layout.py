"""The test doubles stay on the test side: production code never imports ``testing``."""

from __future__ import annotations

import ast
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = {".venv", "node_modules", "var", "static", "locale", "templates"}


def _production_modules() -> list[Path]:
    """Every project module outside ``testing/``, ``*/tests/``, conftest files and
    ``bench/`` (benchmarks run against the test doubles, by hand)."""
    found = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in NOT_SOURCE | {"testing", "bench"} or parts[0].startswith("."):
            continue
        if "tests" in parts or path.name == "conftest.py":
            continue
        found.append(path)
    return found


def _imports_testing(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == "testing" or name.startswith("testing.") for name in names):
            return True
    return False


def test_production_modules_never_import_testing():
    # given every production module (the scan must see the apps, or it proves nothing)
    modules = _production_modules()
    assert ROOT / "chains" / "icp" / "agent.py" in modules
    assert ROOT / "oracle" / "sources" / "icp_xrc.py" in modules

    # when
    offenders = [str(p.relative_to(ROOT)) for p in modules if _imports_testing(p)]

    # then
    assert offenders == []


def test_testing_is_not_a_django_app():
    # given / when
    labels = {config.name for config in apps.get_app_configs()}

    # then
    assert "testing" not in labels
    assert not any(name.startswith("testing.") for name in labels)


def test_wire_format_test_servers_live_in_testing():
    # given: the test servers of the project (a module named *_server.py that is no test)
    servers = [
        path.relative_to(ROOT)
        for path in ROOT.rglob("*_server.py")
        if not any(
            part in NOT_SOURCE or part.startswith(".") for part in path.relative_to(ROOT).parts
        )
        and not path.name.startswith("test_")
    ]
    # then: all under testing/, where production code cannot reach them (the scan sees them)
    assert Path("testing/push_server.py") in servers
    assert [str(p) for p in servers if p.parts[0] != "testing"] == []

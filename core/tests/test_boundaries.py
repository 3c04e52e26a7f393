"""core is the base app: its production code imports no domain app and no `config`."""

import ast
import os
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1]
FORBIDDEN = {"accounts", "marketplace", "swaps", "oracle", "chains", "config"}


def _imported_roots(tree: ast.AST) -> set[str]:
    """First segment of every module imported anywhere in ``tree``, functions included."""
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _production_modules() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if "tests" not in p.relative_to(CORE).parts)


def test_core_production_code_imports_no_domain_app_and_no_config():
    # when
    offenders = {
        str(path.relative_to(CORE)): sorted(
            _imported_roots(ast.parse(path.read_text())) & FORBIDDEN
        )
        for path in _production_modules()
    }
    # then
    assert {path: roots for path, roots in offenders.items() if roots} == {}


def test_the_import_scan_sees_imports_inside_functions():
    # given
    source = "def f():\n    from chains import selectors\n    import config.celery\n"
    # when / then
    assert _imported_roots(ast.parse(source)) == {"chains", "config"}


def test_every_core_module_imports_in_a_project_with_no_domain_app_installed():
    # given: a fresh interpreter whose settings install Django's apps and core only
    names = [
        ".".join(p.relative_to(CORE.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in _production_modules()
    ]
    script = f"""
import importlib, sys
import django
from django.conf import settings
settings.configure(
    SECRET_KEY="x" * 50,
    INSTALLED_APPS=[
        "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
        "django.contrib.sessions", "django.contrib.messages", "core",
    ],
    DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}}},
)
django.setup()
for name in {names!r}:
    importlib.import_module(name)
print(sorted(m for m in sys.modules if m.split(".")[0] in {sorted(FORBIDDEN)!r}))
"""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    # when
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=CORE.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # then: each imports, and no domain app or `config` module was loaded on the way
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

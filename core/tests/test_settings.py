"""Settings are declared once: every tunable is named in ``config/settings/base.py`` with its
default and a comment, read from the environment there, and read elsewhere by name."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from core.tests.test_architecture import ROOT, _is_production


def getattr_settings_reads(source: str) -> list[str]:
    """The setting names `source` reads with ``getattr(settings, NAME, ...)``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "settings"
        ):
            name = node.args[1] if len(node.args) > 1 else None
            found.append(name.value if isinstance(name, ast.Constant) else "?")
    return found


def test_production_code_reads_no_setting_with_a_hidden_default():
    # given: getattr(settings, NAME, default) keeps a default out of base.py and its docs
    offenders = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path in ROOT.rglob("*.py")
        if ".venv" not in path.parts and "node_modules" not in path.parts
        if _is_production(path)
        for name in getattr_settings_reads(path.read_text())
    )
    # then
    assert offenders == []


def test_the_scanner_sees_a_getattr_read():
    assert getattr_settings_reads("x = getattr(settings, 'FOO', 1)\ny = settings.BAR\n") == ["FOO"]


def test_swap_push_and_faucet_settings_are_read_from_the_environment():
    # given
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "SWAP_MESSAGE_MAX_CHARS": "500",
        "SWAP_EVIDENCE_ROOT": "/srv/evidence",
        "SWAP_EVIDENCE_MAX_BYTES": "1024",
        "SWAP_EVIDENCE_MAX_FILES": "2",
        "WEBPUSH_VAPID_PRIVATE_KEY": "key",
        "WEBPUSH_SUBJECT": "mailto:ops@example.com",
        "WEBPUSH_TTL_SECONDS": "60",
        "FAUCET_ETH": "0.5",
        "FAUCET_TEST": "10",
    }
    names = [k for k in env if k.startswith(("SWAP_", "WEBPUSH_", "FAUCET_"))]
    script = (
        "import django; django.setup(); from django.conf import settings; "
        f"print(repr([getattr(settings, n) for n in {names!r}]))"
    )
    # when
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    # then
    assert result.returncode == 0, result.stderr
    assert ast.literal_eval(result.stdout.strip().splitlines()[-1]) == [
        500,
        "/srv/evidence",
        1024,
        2,
        "key",
        "mailto:ops@example.com",
        60,
        "0.5",
        "10",
    ]


def test_the_defaults_are_the_documented_ones():
    from config.settings import base

    # then
    assert base.SWAP_MESSAGE_MAX_CHARS == 2000
    assert base.SWAP_EVIDENCE_ROOT == ""
    assert base.SWAP_EVIDENCE_MAX_BYTES == 5 * 1024 * 1024
    assert base.SWAP_EVIDENCE_MAX_FILES == 5
    assert (base.WEBPUSH_VAPID_PRIVATE_KEY, base.WEBPUSH_SUBJECT) == ("", "")
    assert base.WEBPUSH_TTL_SECONDS == 3600
    assert (base.FAUCET_ETH, base.FAUCET_TEST) == ("1", "1000")


def test_every_tunable_named_here_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    for name in [
        "SWAP_MESSAGE_MAX_CHARS",
        "SWAP_EVIDENCE_ROOT",
        "SWAP_EVIDENCE_MAX_BYTES",
        "SWAP_EVIDENCE_MAX_FILES",
        "WEBPUSH_VAPID_PRIVATE_KEY",
        "WEBPUSH_SUBJECT",
        "WEBPUSH_TTL_SECONDS",
        "FAUCET_ETH",
        "FAUCET_TEST",
    ]:
        rows = [line for line in readme.splitlines() if line.startswith("| ")]
        assert any(f"`{name}`" in row.split(" | ")[0] for row in rows), name


def environment_reads(source: str) -> set[str]:
    """The variable names a settings module reads with ``env.<type>("NAME", ...)``."""
    return {
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "env"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def test_every_environment_variable_the_settings_read_is_in_the_readme():
    # given
    readme = (ROOT / "README.md").read_text()
    names = set().union(
        *(environment_reads(p.read_text()) for p in (ROOT / "config" / "settings").glob("*.py"))
    )
    # then: each has its row (or mention) in README's "Environment variables"
    assert len(names) > 50
    assert sorted(n for n in names if f"`{n}`" not in readme) == []


def test_the_environment_scanner_sees_each_typed_read():
    source = 'A = env.int("ONE", default=1)\nB = env("TWO")\nC = env.str("THREE")\n'
    assert environment_reads(source) == {"ONE", "THREE"}

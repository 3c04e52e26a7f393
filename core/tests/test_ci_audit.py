"""`make audit` (.ci/audit.py): a finding fails unless listed; an unreachable service warns."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"


@pytest.fixture
def audit():
    spec = importlib.util.spec_from_file_location("ci_audit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _answer(monkeypatch, stdout: str) -> None:
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, stdout, "")
    )


PIP_FINDING = {
    "dependencies": [
        {
            "name": "django",
            "version": "5.2.0",
            "vulns": [{"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"], "fix_versions": ["5.2.1"]}],
        },
        {"name": "six", "version": "1.0", "vulns": []},
    ]
}


def test_a_python_advisory_fails_the_audit(audit, monkeypatch, capsys):
    # given
    _answer(monkeypatch, json.dumps(PIP_FINDING))
    # when / then
    assert audit.audit_python(set()) == 1
    assert "PYSEC-2099-1" in capsys.readouterr().out


def test_a_listed_python_advisory_does_not_fail(audit, monkeypatch):
    # given: listed by an alias
    _answer(monkeypatch, json.dumps(PIP_FINDING))
    # when / then
    assert audit.audit_python({"CVE-2099-1"}) == 0


def test_an_unreachable_python_service_warns_and_passes(audit, monkeypatch, capsys):
    # given: every package skipped
    skipped = {"dependencies": [{"name": "django", "version": "5.2", "skip_reason": "x"}]}
    _answer(monkeypatch, json.dumps(skipped))
    # when / then
    assert audit.audit_python(set()) == 0
    assert "NOT AUDITED" in capsys.readouterr().out


def test_high_npm_advisories_fail_and_moderate_ones_are_printed(audit, monkeypatch, capsys):
    # given
    report = {
        "vulnerabilities": {
            "htmx.org": {"severity": "high", "via": [{"url": "https://x/GHSA-aaaa-bbbb-cccc"}]},
            "esbuild": {"severity": "moderate", "via": [{"url": "https://x/GHSA-dddd-eeee-ffff"}]},
        }
    }
    _answer(monkeypatch, json.dumps(report))
    # when / then
    assert audit.audit_npm(set()) == 1
    assert audit.audit_npm({"GHSA-aaaa-bbbb-cccc"}) == 0
    assert "esbuild: moderate" in capsys.readouterr().out


def test_an_unreachable_npm_endpoint_warns_and_passes(audit, monkeypatch, capsys):
    # given
    _answer(monkeypatch, json.dumps({"message": "405 Method Not Allowed"}))
    # when / then
    assert audit.audit_npm(set()) == 0
    assert "NOT AUDITED" in capsys.readouterr().out

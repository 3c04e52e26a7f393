"""The alert rules and the scrape configuration pass promtool, and the rules' unit tests
(deploy/prometheus/tests/alerts_test.yml) hold. Skips without Debian's prometheus package."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ops.tests.support import require_binary

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess:
    tool = require_binary("promtool", "prometheus")
    return subprocess.run(
        [tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120
    )


def test_alert_rules_are_valid():
    done = _promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_alert_rules_fire_and_stay_quiet_as_their_unit_tests_say():
    done = _promtool("test", "rules", "tests/alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_scrape_configuration_is_valid(tmp_path):
    # given: the configuration beside its token file, as on a server
    import shutil

    shutil.copytree(PROMETHEUS, tmp_path / "prometheus")
    (tmp_path / "prometheus" / "metrics_token").write_text("a-token-of-at-least-16-chars\n")
    # when
    tool = require_binary("promtool", "prometheus")
    done = subprocess.run(
        [tool, "check", "config", "prometheus.yml"],
        cwd=tmp_path / "prometheus",
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_names_a_runbook_that_exists():
    import yaml

    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    root = PROMETHEUS.parents[1]
    for group in rules["groups"]:
        for rule in group["rules"]:
            runbook = rule["annotations"]["runbook"]
            assert (root / runbook).is_file(), f"{rule['alert']}: {runbook} missing"

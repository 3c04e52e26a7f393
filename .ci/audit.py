"""Known-vulnerability scan of the pinned dependencies (`make audit`, part of `make test`).

Python: pip-audit over requirements.txt (every pinned package, runtime and test tools).
npm: npm audit over the whole lock (the browser bundle is built from devDependencies, so
`--omit=dev` would audit nothing that ships).

Exit code:
- 1 when an advisory is found that `.ci/audit-ignore.txt` does not list (any severity for
  Python, whose advisories carry none; high or critical for npm, lower ones are printed);
- 0 otherwise, including when an advisory service cannot be reached: then a banner says
  "NOT AUDITED" (this machine's registry proxy serves packages but not PyPI's JSON API or
  npm's bulk advisory endpoint), and the run proves nothing about that ecosystem.

`.ci/audit-ignore.txt`: one advisory id (PYSEC-..., GHSA-..., CVE-...) per line, then the
reason it cannot or need not be fixed now; `#` starts a comment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILE = ROOT / ".ci" / "audit-ignore.txt"
NPM_FAILING = {"high", "critical"}


def ignored() -> set[str]:
    ids = set()
    for line in IGNORE_FILE.read_text().splitlines() if IGNORE_FILE.exists() else []:
        line = line.split("#", 1)[0].strip()
        if line:
            ids.add(line.split()[0])
    return ids


def banner(text: str) -> None:
    print(f"!!! {'=' * 70}\n!!! {text}\n!!! {'=' * 70}")


def audit_python(skip: set[str]) -> int:
    command = [
        str(ROOT / ".venv" / "bin" / "pip-audit"),
        "--requirement",
        str(ROOT / "requirements.txt"),
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--format",
        "json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)  # noqa: S603
    try:
        report = json.loads(done.stdout)
    except ValueError:
        banner("Python packages NOT AUDITED: pip-audit failed: " + done.stderr.strip()[-300:])
        return 0
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    if deps and not audited:
        banner("Python packages NOT AUDITED: the advisory service (PyPI JSON API) is unreachable")
        return 0
    found = [
        (d["name"], d["version"], v["id"], v.get("fix_versions", []))
        for d in audited
        for v in d.get("vulns", [])
        if v["id"] not in skip and not set(v.get("aliases", [])) & skip
    ]
    for name, version, vuln, fixes in found:
        print(f"python: {name} {version}: {vuln} (fixed in: {', '.join(fixes) or 'none yet'})")
    print(f"python: {len(audited)} packages audited, {len(found)} advisories not ignored")
    return 1 if found else 0


def audit_npm(skip: set[str]) -> int:
    done = subprocess.run(
        ["npm", "audit", "--json"],  # noqa: S607  (npm from PATH, as make uses it)
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {}
    if "vulnerabilities" not in report:
        reason = report.get("message") or done.stderr.strip()[-200:]
        banner(f"npm packages NOT AUDITED: the advisory endpoint is unreachable ({reason})")
        return 0
    failing = 0
    for name, entry in report["vulnerabilities"].items():
        advisories = [v for v in entry.get("via", []) if isinstance(v, dict)]
        ids = {str(v.get("url", "")).rsplit("/", 1)[-1] for v in advisories}
        if ids and ids <= skip:
            continue
        severity = entry.get("severity", "unknown")
        print(f"npm: {name}: {severity} ({', '.join(sorted(ids)) or 'via a dependency'})")
        failing += severity in NPM_FAILING
    print(f"npm: {failing} high or critical advisories not ignored")
    return 1 if failing else 0


def main() -> int:
    skip = ignored()
    return max(audit_python(skip), audit_npm(skip))


if __name__ == "__main__":
    sys.exit(main())

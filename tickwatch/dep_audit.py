"""``python -m tickwatch.dep_audit``: audit the pinned Python dependencies for vulnerabilities.

Runs pip-audit (pinned in the ``dev`` extra) on this virtualenv — the packages pinned in
``pyproject.toml`` and what they pulled in — against the package index's vulnerability data
(``--vulnerability-service pypi``), then decides:

* a vulnerability with a fixed version → exit 1, naming package, version, advisory and fix
  (bump the pin to the fix and run that package's tests);
* a vulnerability without any fix → reported, exit 0 (nothing to upgrade to);
* packages the service could not answer for (no network, or an index mirror without the JSON
  API) are **not audited**: said loudly, and with ``--require-data`` (``make audit``) exit 2.

``make lint`` runs it without ``--require-data`` so lint still works offline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TIMEOUT_S = 600.0


@dataclass
class AuditVerdict:
    """What a pip-audit JSON report says, sorted into what fails the build and what does not."""

    audited: int = 0
    fixable: list[str] = field(default_factory=list)
    unfixable: list[str] = field(default_factory=list)
    unaudited: list[str] = field(default_factory=list)


def judge(report: dict[str, Any]) -> AuditVerdict:
    """Sort a pip-audit ``--format json`` report (``{"dependencies": [...]}``)."""
    verdict = AuditVerdict()
    for dep in report.get("dependencies", []):
        name = f"{dep['name']}=={dep['version']}" if "version" in dep else str(dep["name"])
        if "skip_reason" in dep:
            verdict.unaudited.append(name)
            continue
        verdict.audited += 1
        for vuln in dep.get("vulns", []):
            fixes = vuln.get("fix_versions") or []
            line = f"{name}: {vuln['id']}"
            if fixes:
                verdict.fixable.append(f"{line} (fixed in {', '.join(fixes)})")
            else:
                verdict.unfixable.append(f"{line} (no fix released)")
    return verdict


def exit_code(verdict: AuditVerdict, *, require_data: bool) -> int:
    if verdict.fixable:
        return 1
    if verdict.unaudited and require_data:
        return 2
    return 0


def run_pip_audit() -> dict[str, Any]:
    """pip-audit's JSON report for this interpreter's environment. Blocks while it queries."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        argv = [
            sys.executable, "-m", "pip_audit", "--vulnerability-service", "pypi",
            "--format", "json", "--output", str(out), "--skip-editable",
            "--progress-spinner", "off",
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
        if not out.is_file():
            raise SystemExit(f"pip-audit failed (exit {done.returncode}):\n{done.stderr}")
        report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return report


def main(argv: list[str] | None = None) -> int:
    """Audit, print the verdict, return the exit code (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--require-data", action="store_true", help="fail if not all audited")
    args = parser.parse_args(argv)
    verdict = judge(run_pip_audit())
    for line in verdict.fixable:
        print(f"VULNERABLE, fix available: {line}")
    for line in verdict.unfixable:
        print(f"vulnerable, no fix yet: {line}")
    if verdict.unaudited:
        print(
            f"NOT AUDITED: the vulnerability service had no answer for {len(verdict.unaudited)} "
            f"of {len(verdict.unaudited) + verdict.audited} packages (offline, or an index mirror "
            f"without its JSON API), e.g. {', '.join(verdict.unaudited[:3])}"
        )
    code = exit_code(verdict, require_data=args.require_data)
    if code == 0 and not verdict.unaudited:
        print(f"dependency audit: {verdict.audited} packages, no fixable vulnerability")
    return code


if __name__ == "__main__":
    raise SystemExit(main())

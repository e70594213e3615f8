"""The dependency audit's verdict on pip-audit reports (the shape pip-audit 2.10 writes)."""

from __future__ import annotations

from typing import Any

from tickwatch.dep_audit import exit_code, judge

REPORT: dict[str, Any] = {
    "dependencies": [
        {"name": "httpx", "version": "0.28.1", "vulns": []},
        {
            "name": "requests",
            "version": "2.19.0",
            "vulns": [
                {"id": "PYSEC-2018-28", "fix_versions": ["2.20.0"], "aliases": ["CVE-2018-18074"]}
            ],
        },
        {"name": "oldlib", "version": "1.0", "vulns": [{"id": "GHSA-xxxx", "fix_versions": []}]},
        {"name": "offline", "skip_reason": "Dependency not found on PyPI and could not be audited"},
    ],
    "fixes": [],
}


def test_a_fixable_vulnerability_fails_naming_the_fix() -> None:
    verdict = judge(REPORT)
    assert verdict.fixable == ["requests==2.19.0: PYSEC-2018-28 (fixed in 2.20.0)"]
    assert verdict.unfixable == ["oldlib==1.0: GHSA-xxxx (no fix released)"]
    assert verdict.unaudited == ["offline"] and verdict.audited == 3
    assert exit_code(verdict, require_data=False) == 1


def test_unfixable_only_passes_and_missing_data_fails_only_when_required() -> None:
    report = {"dependencies": [d for d in REPORT["dependencies"] if d["name"] != "requests"]}
    verdict = judge(report)
    assert exit_code(verdict, require_data=False) == 0
    assert exit_code(verdict, require_data=True) == 2

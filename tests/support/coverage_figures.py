"""Line and branch coverage figures from ``coverage json`` output (``make coverage`` prints them).

coverage.py's own report merges lines and branches into one percentage; issue 9 asks for both,
and for the security-relevant modules one by one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

SECURITY_MODULES = (
    "src/meetbridge/crypto.py",
    "src/meetbridge/web/",
    "src/meetbridge/engines/zoom/webhooks.py",
    "src/meetbridge/chat/mattermost/actions.py",
)
BRANCH_TARGET = 95.0


def _percent(covered: int, total: int) -> float:
    return 100.0 * covered / total if total else 100.0


def _figures(summary: dict[str, Any]) -> tuple[float, float]:
    lines = _percent(summary["covered_lines"], summary["num_statements"])
    branches = _percent(summary["covered_branches"], summary["num_branches"])
    return lines, branches


def _sum(files: list[dict[str, Any]]) -> dict[str, int]:
    keys = ("covered_lines", "num_statements", "covered_branches", "num_branches")
    return {key: sum(f["summary"][key] for f in files) for key in keys}


def main(path: str = "coverage.json") -> int:
    report = orjson.loads(Path(path).read_bytes())
    files = report["files"]
    lines, branches = _figures(report["totals"])
    print(f"{'src/ (all)':48} lines {lines:5.1f}%  branches {branches:5.1f}%")
    for prefix in SECURITY_MODULES:
        chosen = [data for name, data in files.items() if name.startswith(prefix)]
        if not chosen:
            print(f"{prefix:48} (not measured)")
            continue
        lines, branches = _figures(_sum(chosen))
        mark = "" if branches >= BRANCH_TARGET else f"  < {BRANCH_TARGET:g}% branch target"
        print(f"{prefix:48} lines {lines:5.1f}%  branches {branches:5.1f}%{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

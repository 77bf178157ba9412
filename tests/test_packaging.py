"""The lower-bounds constraints file tests exactly the ranges pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(meta["dependencies"])
    for extra in meta["optional-dependencies"].values():
        specs += extra
    out: dict[str, str] = {}
    for spec in specs:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([0-9][0-9a-zA-Z.]*)(,.*)?", spec.strip())
        assert m, f"dependency {spec!r} has no '>=' lower bound"
        out[m.group(1).lower()] = m.group(3)
    return out


def _pinned() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (ROOT / ".ci" / "lower-bounds.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[name.strip().lower()] = version.strip()
    return out


def test_lower_bounds_file_pins_every_declared_dependency_at_its_bound():
    declared, pinned = _declared(), _pinned()
    missing = sorted(set(declared) - set(pinned))
    assert not missing, f"add these to .ci/lower-bounds.txt at their lower bound: {missing}"
    wrong = {n: (pinned[n], b) for n, b in declared.items() if Version(pinned[n]) != Version(b)}
    assert not wrong, f"pinned version differs from the declared lower bound: {wrong}"


def test_ci_runs_the_readme_test_command_and_the_lower_bounds():
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cmd = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    assert cmd in readme.split("---", 1)[0] and cmd in run
    assert "-c .ci/lower-bounds.txt" in run

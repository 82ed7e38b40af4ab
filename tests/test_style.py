"""The code style the project keeps: ruff's lint rules and formatter (configured in
pyproject.toml) over ecglib/, tests/ and benchmarks/. Run ``ruff format`` and ``ruff check
--fix`` to mend what this finds (the pre-commit hook does it on every commit)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecglib.config import PROJECT_ROOT

TARGETS = ("ecglib", "tests", "benchmarks")


def _ruff() -> list[str]:
    beside = Path(sys.executable).with_name("ruff")
    if beside.exists():
        return [str(beside)]
    if shutil.which("ruff"):
        return ["ruff"]
    pytest.fail(
        "ruff is not installed: it is a test dependency (pip install -e '.[test]')", pytrace=False
    )


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff(command):
    done = subprocess.run(
        [*_ruff(), *command, *TARGETS], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr

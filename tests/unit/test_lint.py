"""The code stays free of what a linter catches for certain: undefined names, unused imports,
likely bugs (ruff's F, E, W and B rules, configured in pyproject.toml)."""
import subprocess
import sys
from pathlib import Path

from common.config import PROJECT_ROOT


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "--quiet", str(PROJECT_ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

"""The services' boundaries (issue 19), as import-linter reads the code (pyproject.toml [tool.importlinter]): no
service imports another, the gateway imports of a service only its published contract (services/<name>/api.py),
the shared package depends on no service and not on the gateway, and transparency has the budget lines only from
payments' events (its demo data aside)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from common.config import PROJECT_ROOT


def test_every_import_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Contracts: 5 kept, 0 broken." in result.stdout

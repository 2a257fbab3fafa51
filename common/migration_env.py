"""The body of every service's alembic env.py: online migrations only, on PostgreSQL."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool


def run(target_metadata) -> None:
    config = context.config
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()

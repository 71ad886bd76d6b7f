"""Bring the application database to the newest schema (alembic, programmatically).

    python -m bot.db.migrate                 # DATABASE_URL, else var/app.db
    python -m bot.db.migrate --url URL

Operators may equally run ``alembic upgrade head`` from the repository root.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.db.engine import get_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Key of the PostgreSQL advisory lock taken while migrating (any constant).
_MIGRATION_LOCK_KEY = 2026_1128_0001


def alembic_config(connection: Optional[Connection] = None) -> Config:
    """Alembic's configuration without an ini file; migrations run on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(url: Optional[str] = None, revision: str = "head") -> None:
    """Migrate to ``revision`` in one transaction. On PostgreSQL, instances
    starting together wait for each other instead of migrating twice."""
    with get_engine(url).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        command.upgrade(alembic_config(connection), revision)


def downgrade(url: Optional[str] = None, revision: str = "base") -> None:
    with get_engine(url).begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(url: Optional[str] = None) -> Optional[str]:
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> Optional[str]:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: DATABASE_URL or var/app.db)")
    args = parser.parse_args(argv)
    upgrade(args.url)
    print(f"database schema at revision {current_revision(args.url)}")


if __name__ == "__main__":
    main()

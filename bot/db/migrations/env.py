"""Alembic environment of the application database.

``bot.db.migrate.upgrade()`` hands over an open connection (so the caller
controls the transaction and any lock); the ``alembic`` command connects to
``-x url=...`` or else ``DATABASE_URL`` / the settings' default.
"""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from bot.db.engine import database_url, get_engine
from bot.db.models import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        # SQLite alters tables by copying them; later migrations need batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=Base.metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    return database_url(context.get_x_argument(as_dictionary=True).get("url"))


if config.config_file_name is not None:  # the alembic command, not upgrade()
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    _run_offline()
elif config.attributes.get("connection") is not None:
    _run(config.attributes["connection"])
else:
    with get_engine(_url()).connect() as connection:
        _run(connection)

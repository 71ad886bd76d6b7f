"""Alembic migrations of the application database (run: ``python -m bot.db.migrate``)."""

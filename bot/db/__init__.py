"""The application database: customers, applications, branches and appointments.

One job per module:

- ``models``: tables, status enums and their allowed transitions;
- ``engine``: one engine per process and the ``unit_of_work()`` transaction;
- ``repositories``: queries and the domain operations (status changes,
  race-free booking); they never commit, the caller's unit of work does;
- ``migrate``: ``upgrade()`` to the newest schema (``python -m bot.db.migrate``);
- ``seed``: demo data for an empty database (``python -m bot.db.seed --list``).

Nothing here touches the database at import time: the action server imports
every action module, and through them this package.
"""

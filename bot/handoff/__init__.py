"""Human handoff under first-contact responsibility (首问负责制): the data layer.

One job per module:

- ``models``: agents, cases (a customer handed to a person), their messages,
  history and the audit trail, canned replies. They share
  ``bot.db.models.Base``, so one migration history covers every table;
- ``repositories``: the rules of a case (first claim wins and owns it, only
  the owner closes, stages only go forward, who may see what) as queries and
  race-free conditional UPDATEs; they never commit;
- ``sla``: deadlines counted in SERVICE time (9:00-22:00 on working days);
- ``passwords``: Argon2id hashes of the agents' passwords;
- ``seed``: demo agents and canned replies (``python -m bot.handoff.seed --list``).

Nothing here touches the database, the clock or the environment at import time.
"""

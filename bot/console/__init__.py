"""The agents' handoff console (aiohttp): log in, take cases from the queue,
talk to the customer, hand over and close, under first-contact
responsibility (首问负责制).

One job per module:

- ``app``: ``create_app()``, the application factory (routes, middlewares,
  signals); ``python -m bot.console`` runs it;
- ``context``: the console's configuration, its application keys, the clock
  and ``run_db()`` (one unit of work per request, off the event loop);
- ``security``: CSRF tokens, the Origin check, security headers, the login
  rate limit and revoked sessions (in this process's memory);
- ``shared_state``: with ``BOT_REDIS_URL`` (several console processes),
  the hub's events, presence, the login rate limit and revoked sessions in
  Redis; without it, the in-process ones;
- ``auth``: the session cookie, ``/login``, ``/logout`` and the middleware
  that requires a logged-in agent and a CSRF token;
- ``errors``: domain exceptions to HTTP statuses with Chinese messages, in
  one place; nothing else reaches the client;
- ``api``: the JSON API; ``views``: what a case looks like to an agent
  (personal numbers masked);
- ``hub``: the websocket and the hub that tells agents what changed;
- ``presence``: which agents have the console open (in process);
- ``delivery``: ``CustomerLine``, the way to customers: events appended to
  their Rasa conversation and sent on their own channel;
- ``inbound``: customers' messages relayed by Rasa (``bot.handoff.relay``)
  into the case of their conversation;
- ``watcher``: the SLA watcher (warn before the first-response deadline,
  escalate after it, tell a customer still waiting);

Nothing here touches the database, Redis, the network or the environment at import time.
"""

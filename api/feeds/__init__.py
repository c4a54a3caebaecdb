"""The feed lifecycle: approved feed requests into the stream relay and out again, with no HTTP.

One module per step a feed goes through, each keeping its own rules (its docstring says which):

- :mod:`api.feeds.provision` — an ``approved`` request becomes a ``live`` feed session;
- :mod:`api.feeds.credential` — the credential a requester collects: provisioned now, or
  re-issued on a new stream;
- :mod:`api.feeds.revoke` — sessions and requests end: revoked, expired;
- :mod:`api.feeds.reconcile` — the relay made to agree with the database;
- :mod:`api.feeds.ledger` — the relay's stream ledger in PostgreSQL, and the app's relay;
- :mod:`api.feeds.loop` — the expiry and reconcile loop that runs the last three on time;
- :mod:`api.feeds.streams` — a feed's relay stream: its key, the one-time offer and what is
  kept of its credential, destroying it.

The rules they share:

- The database says which sessions are live; the relay follows (:mod:`api.feeds.reconcile`).
- Every transition is audited in the transaction that makes it.
- Relay calls happen while the feed request's row is locked, inside the caller's transaction.
  Every function that locks feed rows first takes the audit chain's lock (which
  :func:`geo.store.audit.append` holds until commit anyway), so that the loop and the API
  never wait for each other's rows in opposite orders; the loop takes it only when it has
  something to change.
- The camera's source URL goes to the relay and nowhere else.

Their SQL is :mod:`geo.store.feed_sessions` and :mod:`geo.store.relay_streams`; the HTTP
endpoints that call them are :mod:`api.incidents`, :mod:`api.feed_requests` and
:mod:`api.activations`.
"""

#: How the audit trail names the lifecycle when no person triggered the transition.
SYSTEM_ACTOR = "system:provisioner"

"""Incidents: correlated alerts as one problem with an owner, a procedure and a clock.

The pure core, no I/O:

- :mod:`~ioc.incidents.models`: correlation policies, procedures, escalation tiers (data);
  :mod:`~ioc.incidents.defaults` reads the shipped ``policies.toml``/``procedures.toml``;
- :mod:`~ioc.incidents.state`: the immutable values (transition in, incident, board);
- :mod:`~ioc.incidents.keys`: (policy, alert) → correlation key, and titles;
- :mod:`~ioc.incidents.correlate`: (catalogue, board, transitions) → (board, changes);
- :mod:`~ioc.incidents.lifecycle`: acknowledge, resolve, close;
- :mod:`~ioc.incidents.procedures`: steps, ticking, overdue;
- :mod:`~ioc.incidents.escalation`: tiers due, once each.

Wired to the database (the core's values in and out, inside the caller's transaction):

- :mod:`~ioc.incidents.store`: the one owner of the incident tables;
- :mod:`~ioc.incidents.sync`: an alert's transition placed in its incident (called by
  :mod:`ioc.alerts.store` for every alert change), and the escalations due;
- :mod:`~ioc.incidents.operations`: acknowledge, resolve, close, tick, as operators do;
- :mod:`~ioc.incidents.notices`: what each change announces (live stream, outbox);
- :mod:`~ioc.incidents.views`: incidents as the API shows them.
"""

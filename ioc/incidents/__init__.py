"""Incidents: correlated alerts as one problem with an owner, a procedure and a clock.

The pure core, no I/O (the engine and the API wire it to the database later):

- :mod:`~ioc.incidents.models`: correlation policies, procedures, escalation tiers (data);
  :mod:`~ioc.incidents.defaults` reads the shipped ``policies.toml``/``procedures.toml``;
- :mod:`~ioc.incidents.state`: the immutable values (transition in, incident, board);
- :mod:`~ioc.incidents.keys`: (policy, alert) → correlation key, and titles;
- :mod:`~ioc.incidents.correlate`: (catalogue, board, transitions) → (board, changes);
- :mod:`~ioc.incidents.lifecycle`: acknowledge, resolve, close;
- :mod:`~ioc.incidents.procedures`: steps, ticking, overdue;
- :mod:`~ioc.incidents.escalation`: tiers due, once each.
"""

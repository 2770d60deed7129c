"""Alerts: rules as data, a pure evaluation core, the engine, the store and the use cases.

- :mod:`ioc.alerts.models` — rule and alert models (what the API serves)
- :mod:`ioc.alerts.core` / :mod:`ioc.alerts.book` — pure evaluation:
  (rule, state, samples, now) → (state, transitions), and the book of every rule's state
- :mod:`ioc.alerts.store` — owner of ``alerts`` and ``alert_history``
- :mod:`ioc.alerts.rules` — owner of ``alert_rules``
- :mod:`ioc.alerts.lifecycle` — acknowledge and resolve, with their audit rows
- :mod:`ioc.alerts.authoring` — create, update and delete rules, with their audit rows
- :mod:`ioc.alerts.defaults` — the default rule set (migration 12's data)
- :mod:`ioc.alerts.engine` — the engine; :mod:`ioc.services.alerts` runs it with the
  outbox and the GOC schedule as ``python -m ioc alerts``
"""

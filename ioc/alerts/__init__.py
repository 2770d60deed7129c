"""The alert engine: rules as data, a pure evaluation core, the service, the store.

- :mod:`ioc.alerts.models` — rule and alert models (what the API serves)
- :mod:`ioc.alerts.core` — pure evaluation: (rule, state, samples, now) → (state, transitions)
- :mod:`ioc.alerts.store` / :mod:`ioc.alerts.rules` — alerts and rules in the database
- :mod:`ioc.alerts.engine` — the service behind ``python -m ioc alerts``
"""

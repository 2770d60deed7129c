"""The notification outbox: rows written with the alert change, drained per target with
retries, exponential backoff and jitter (:mod:`ioc.outbox.drainer`), to webhooks and
Grafana annotations (:mod:`ioc.outbox.targets`) and to whatever registers a target
(the GOC connector)."""

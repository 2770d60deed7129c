"""``python -m ingest --workers N``: each worker process is its own broker client."""

from __future__ import annotations

import pytest

from ingest.__main__ import worker_mqtt_url


@pytest.mark.parametrize(
    ("url", "index", "expected"),
    [
        ("mqtt://127.0.0.1:1884", 1, "mqtt://127.0.0.1:1884"),  # open broker: no account
        ("mqtts://ingest-1:pw@broker:8883", 0, "mqtts://ingest-1-0:pw@broker:8883"),
        ("mqtt://ingest-1:p%40ss@broker:1883", 2, "mqtt://ingest-1-2:p%40ss@broker:1883"),
    ],
)
def test_each_worker_logs_in_with_its_own_bound_account(
    url: str, index: int, expected: str
) -> None:
    assert worker_mqtt_url(url, index) == expected

"""Choosing the source and bucket of a series: pure, one row per case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc.errors import InvalidInput
from ioc.storage.series import auto_bucket, parse_bucket, plan

T0 = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("span", "bucket", "source", "chosen"),
    [
        (timedelta(hours=1), "10s", "readings", "10s"),
        (timedelta(hours=1), "90s", "readings", "90s"),
        (timedelta(days=1), "1m", "readings_1m", "1m"),
        (timedelta(days=1), "15m", "readings_1m", "15m"),
        (timedelta(days=30), "1h", "readings_1h", "1h"),
        (timedelta(days=365), "1d", "readings_1h", "1d"),
        (timedelta(minutes=5), None, "readings", "1s"),
        (timedelta(days=1), None, "readings_1m", "5m"),
        (timedelta(days=30), None, "readings_1h", "1h"),
        (timedelta(0), "1m", "readings_1m", "1m"),
    ],
)
def test_plan(span: timedelta, bucket: str | None, source: str, chosen: str) -> None:
    w = plan(T0, T0 + span, bucket, 10_000)
    assert (w.source, w.bucket) == (source, chosen)


@pytest.mark.parametrize("text", ["", "0m", "5", "1w", "-1m", "1.5h", "1000000s"])
def test_bad_buckets(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_bucket(text)


def test_bucket_cap() -> None:
    plan(T0, T0 + timedelta(days=6, hours=22), "1m", 10_000)
    with pytest.raises(InvalidInput, match="10081 buckets"):
        plan(T0, T0 + timedelta(days=7, minutes=1), "1m", 10_000)
    assert auto_bucket(timedelta(days=5000)) == "7d"

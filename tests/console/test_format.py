"""The console's words for times, durations and order: pure, no page needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ioc.api.console_format import duration, inbox_order, local_time, severity_icon
from ioc.types import SEVERITIES


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (14 * 60 + 5, "14 min"),
        (3 * 3600 + 5 * 60, "3 h 05 min"),
        (2 * 86400 + 4 * 3600, "2 d 4 h"),
        (-5, "0 s"),
    ],
)
def test_duration(seconds: int, text: str) -> None:
    assert duration(timedelta(seconds=seconds)) == text


def test_local_time_is_in_the_centers_zone_with_its_name() -> None:
    at = datetime(2026, 11, 23, 10, 4, 5, 123456, tzinfo=UTC)
    assert local_time(at, ZoneInfo("Asia/Ho_Chi_Minh")) == "2026-11-23 17:04 +07"
    assert local_time(at, ZoneInfo("UTC"), seconds=True) == "2026-11-23 10:04:05 UTC"
    assert local_time(None, ZoneInfo("UTC")) == "—"


def test_every_severity_has_its_own_icon() -> None:
    icons = [severity_icon(s) for s in SEVERITIES]
    assert len(set(icons)) == len(SEVERITIES) and "?" not in icons


def test_inbox_order_unacknowledged_then_severity_then_age() -> None:
    items = [
        ("acknowledged", "critical", 1.0),
        ("firing", "minor", 1.0),
        ("firing", "critical", 5.0),
        ("firing", "critical", 2.0),
    ]
    ordered = sorted(items, key=lambda i: inbox_order(*i))
    assert ordered == [
        ("firing", "critical", 2.0),
        ("firing", "critical", 5.0),
        ("firing", "minor", 1.0),
        ("acknowledged", "critical", 1.0),
    ]

"""How the console writes times, durations and severities: pure, so tests need no page.

A control room reads local time: every instant is shown in the center's zone
(``IOC_TIMEZONE``) with the zone's abbreviation, never as UTC with microseconds, and how
long something has been open is said in words a person says ("open 14 min"). Severity is
carried by an icon and a word as well as by colour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ioc.types import SEVERITIES, severity_rank

#: One shape per severity, so the list still reads in grey scale and to a screen reader.
SEVERITY_ICONS: dict[str, str] = {
    "info": "ℹ",
    "minor": "▼",
    "major": "▲",
    "critical": "⬣",
}
assert set(SEVERITY_ICONS) == set(SEVERITIES)


def local_time(value: datetime | None, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """``2026-11-23 17:04 +07`` in the center's zone; an em dash for no time."""
    if value is None:
        return "—"
    here = value.astimezone(zone)
    text = here.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {here.strftime('%Z')}"


def duration(span: timedelta | float) -> str:
    """A span as a person says it: ``45 s``, ``14 min``, ``3 h 05 min``, ``2 d 4 h``."""
    total = int(span.total_seconds() if isinstance(span, timedelta) else span)
    total = max(total, 0)
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def age(since: datetime | None, now: datetime) -> str:
    """How long ago ``since`` was, or an em dash."""
    return "—" if since is None else duration(now - since)


def severity_icon(severity: str) -> str:
    return SEVERITY_ICONS.get(severity, "?")


def inbox_order(state: str, severity: str, started: float) -> tuple[int, int, float]:
    """The inbox's sort key: unacknowledged first, then the most severe, then the oldest."""
    unacknowledged = state in ("firing", "open")
    return (0 if unacknowledged else 1, -severity_rank(severity), started)

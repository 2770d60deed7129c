"""The metric catalog, loaded once from ``catalog.toml`` beside this module.

Everything that needs to know which readings exist imports :data:`CATALOG`; nothing
else spells out a metric name, unit or range. The domains are the contract's
(:data:`ioc.types.DOMAINS`, re-exported here): the shipped catalog must name each of
them, and no other, or the import fails.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ioc.types import DOMAINS as DOMAINS


@dataclass(frozen=True, slots=True)
class Metric:
    domain: str
    name: str
    unit: str
    description: str
    min: float
    max: float
    typical_min: float
    typical_max: float

    def in_range(self, value: float) -> bool:
        return self.min <= value <= self.max

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "description": self.description,
            "min": self.min,
            "max": self.max,
            "typical_min": self.typical_min,
            "typical_max": self.typical_max,
        }


#: How often a device is expected to be heard from when its domain does not say.
DEFAULT_REPORT_INTERVAL_S = 300.0


class Catalog(Mapping[str, Mapping[str, Metric]]):
    """Domain → metric name → :class:`Metric`, and each domain's expected report interval."""

    def __init__(
        self,
        domains: Mapping[str, Mapping[str, Metric]],
        report_intervals: Mapping[str, float] | None = None,
    ) -> None:
        self._domains = {d: dict(m) for d, m in domains.items()}
        self._intervals = dict(report_intervals or {})

    @classmethod
    def from_toml(cls, text: str) -> Catalog:
        raw = tomllib.loads(text)
        unknown = set(raw) - set(DOMAINS)
        if unknown:
            raise ValueError(f"catalog names unknown domains: {sorted(unknown)}")
        domains: dict[str, dict[str, Metric]] = {}
        intervals: dict[str, float] = {}
        for domain in DOMAINS:
            metrics: dict[str, Metric] = {}
            entries = dict(raw.get(domain, {}))
            interval = float(entries.pop("report_interval_s", DEFAULT_REPORT_INTERVAL_S))
            if interval <= 0:
                raise ValueError(f"{domain}.report_interval_s must be positive")
            intervals[domain] = interval
            for name, spec in entries.items():
                metric = Metric(
                    domain=domain,
                    name=name,
                    unit=str(spec["unit"]),
                    description=str(spec.get("description", "")),
                    min=float(spec["min"]),
                    max=float(spec["max"]),
                    typical_min=float(spec.get("typical_min", spec["min"])),
                    typical_max=float(spec.get("typical_max", spec["max"])),
                )
                if not metric.min <= metric.typical_min <= metric.typical_max <= metric.max:
                    raise ValueError(f"{domain}.{name}: ranges are not nested")
                metrics[name] = metric
            domains[domain] = metrics
        return cls(domains, intervals)

    def __getitem__(self, domain: str) -> Mapping[str, Metric]:
        return self._domains[domain]

    def __iter__(self) -> Iterator[str]:
        return iter(self._domains)

    def __len__(self) -> int:
        return len(self._domains)

    def metric(self, domain: str, name: str) -> Metric | None:
        return self._domains.get(domain, {}).get(name)

    def report_interval_s(self, domain: str) -> float:
        """Seconds within which a device of ``domain`` is expected to be heard from."""
        return self._intervals.get(domain, DEFAULT_REPORT_INTERVAL_S)

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        """The shape served by ``GET /api/v1/catalog``."""
        return {d: [m.as_dict() for m in ms.values()] for d, ms in self._domains.items()}


def load_catalog(text: str | None = None) -> Catalog:
    """The shipped ``catalog.toml`` (or ``text`` in its place), which must give every
    domain of the contract at least one metric."""
    if text is None:
        text = resources.files(__package__).joinpath("catalog.toml").read_text("utf-8")
    catalog = Catalog.from_toml(text)
    missing = [domain for domain in DOMAINS if not catalog[domain]]
    if missing:
        raise ValueError(f"catalog names no metrics for domains: {missing}")
    return catalog


CATALOG: Catalog = load_catalog()

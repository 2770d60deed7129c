"""The metric catalog, loaded once from ``catalog.toml`` beside this module.

Everything that needs to know which readings exist imports :data:`CATALOG`; nothing
else spells out a metric name, unit or range.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

DOMAINS: tuple[str, ...] = ("traffic", "energy", "agriculture", "health")


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


class Catalog(Mapping[str, Mapping[str, Metric]]):
    """Domain → metric name → :class:`Metric`."""

    def __init__(self, domains: Mapping[str, Mapping[str, Metric]]) -> None:
        self._domains = {d: dict(m) for d, m in domains.items()}

    @classmethod
    def from_toml(cls, text: str) -> Catalog:
        raw = tomllib.loads(text)
        unknown = set(raw) - set(DOMAINS)
        if unknown:
            raise ValueError(f"catalog names unknown domains: {sorted(unknown)}")
        domains: dict[str, dict[str, Metric]] = {}
        for domain in DOMAINS:
            metrics: dict[str, Metric] = {}
            for name, spec in raw.get(domain, {}).items():
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
        return cls(domains)

    def __getitem__(self, domain: str) -> Mapping[str, Metric]:
        return self._domains[domain]

    def __iter__(self) -> Iterator[str]:
        return iter(self._domains)

    def __len__(self) -> int:
        return len(self._domains)

    def metric(self, domain: str, name: str) -> Metric | None:
        return self._domains.get(domain, {}).get(name)

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        """The shape served by ``GET /api/v1/catalog``."""
        return {d: [m.as_dict() for m in ms.values()] for d, ms in self._domains.items()}


def load_catalog() -> Catalog:
    text = resources.files(__package__).joinpath("catalog.toml").read_text("utf-8")
    return Catalog.from_toml(text)


CATALOG: Catalog = load_catalog()

"""The simulated fleet: which devices exist, in which domain and district, and where.

A fleet is pure data built from a seed, so the same arguments always give the same
devices. Devices are numbered globally (``index``) in domain order; the engine keeps one
numpy array per domain, and ``Fleet.slices`` says which global indices each covers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ioc.telemetry.catalog import DOMAINS
from ioc.telemetry.decoder import DeviceLookup, DeviceRecord
from ioc.telemetry.topics import is_valid_device_id

#: A mid-sized delta city: districts around a centre, a few kilometres apart.
DEFAULT_DISTRICTS: tuple[str, ...] = (
    "central",
    "riverside",
    "harbour",
    "north",
    "east",
    "west",
)
CITY_CENTRE = (10.0340, 105.7880)
_DISTRICT_RADIUS_DEG = 0.06
_DEVICE_SPREAD_DEG = 0.012


@dataclass(frozen=True, slots=True)
class Device:
    index: int
    device_id: str
    domain: str
    district: str
    lat: float
    lon: float

    @property
    def name(self) -> str:
        return f"{self.domain} {self.district} #{self.device_id.rsplit('-', 1)[-1]}"

    def registration(self) -> dict[str, object]:
        """The body of ``POST /api/v1/devices``."""
        return {
            "device_id": self.device_id,
            "domain": self.domain,
            "name": self.name,
            "district": self.district,
            "lat": self.lat,
            "lon": self.lon,
        }


@dataclass(frozen=True, slots=True)
class Fleet:
    devices: tuple[Device, ...]
    districts: tuple[str, ...]

    @classmethod
    def build(
        cls,
        per_domain: int,
        *,
        seed: int = 0,
        districts: Sequence[str] = DEFAULT_DISTRICTS,
        domains: Sequence[str] = DOMAINS,
        prefix: str = "sim",
    ) -> Fleet:
        """``per_domain`` devices in each domain, dealt round-robin over the districts."""
        if per_domain < 1:
            raise ValueError("per_domain must be at least 1")
        if not districts:
            raise ValueError("at least one district is needed")
        unknown = set(domains) - set(DOMAINS)
        if unknown:
            raise ValueError(f"unknown domains: {sorted(unknown)}")
        rng = np.random.default_rng([seed, 1])
        angles = np.linspace(0, 2 * np.pi, len(districts), endpoint=False)
        centres = [
            (
                CITY_CENTRE[0] + (0 if i == 0 else _DISTRICT_RADIUS_DEG * np.sin(a)),
                CITY_CENTRE[1] + (0 if i == 0 else _DISTRICT_RADIUS_DEG * np.cos(a)),
            )
            for i, a in enumerate(angles)
        ]
        devices: list[Device] = []
        for domain in (d for d in DOMAINS if d in domains):
            jitter = rng.normal(0.0, _DEVICE_SPREAD_DEG, size=(per_domain, 2))
            for i in range(per_domain):
                d = i % len(districts)
                device_id = f"{prefix}-{domain}-{i + 1:05d}"
                if not is_valid_device_id(device_id):
                    raise ValueError(f"device id {device_id!r} breaks the topic contract")
                devices.append(
                    Device(
                        index=len(devices),
                        device_id=device_id,
                        domain=domain,
                        district=districts[d],
                        lat=round(float(centres[d][0] + jitter[i, 0]), 6),
                        lon=round(float(centres[d][1] + jitter[i, 1]), 6),
                    )
                )
        return cls(tuple(devices), tuple(districts))

    def __len__(self) -> int:
        return len(self.devices)

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(d for d in DOMAINS if any(dev.domain == d for dev in self.devices))

    def of_domain(self, domain: str) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.domain == domain)

    def slices(self) -> dict[str, slice]:
        """Global index range of each domain (devices are stored domain by domain)."""
        out: dict[str, slice] = {}
        for domain in self.domains:
            members = [d.index for d in self.devices if d.domain == domain]
            out[domain] = slice(members[0], members[-1] + 1)
        return out

    def district_index(self) -> np.ndarray:
        """District number of every device, by global index."""
        lookup = {name: i for i, name in enumerate(self.districts)}
        return np.array([lookup[d.district] for d in self.devices], dtype=np.int64)

    def in_district(self, district: str, domain: str | None = None) -> tuple[Device, ...]:
        if district not in self.districts:
            raise ValueError(f"district {district!r} is not one of {', '.join(self.districts)}")
        return tuple(
            d
            for d in self.devices
            if d.district == district and (domain is None or d.domain == domain)
        )

    def lookup(self) -> DeviceLookup:
        """A registry lookup for the decoder, as if every simulated device were registered."""
        records = {d.device_id: DeviceRecord(d.device_id, d.domain) for d in self.devices}
        return records.get

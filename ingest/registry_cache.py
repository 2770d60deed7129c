"""The device registry as ingest sees it: an in-memory copy, reloaded on a schedule (so
a decommissioned device is refused within seconds) and asked of the database whenever an
unknown device shows up (so a device registered a moment ago is accepted at once)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from ioc.storage.db import Connection
from ioc.storage.registry import load_devices
from ioc.telemetry.decoder import DeviceRecord


class RegistryCache:
    def __init__(self, refresh_s: float = 5.0) -> None:
        self.refresh_s = refresh_s
        self._devices: dict[str, DeviceRecord] = {}
        self._loaded_at = float("-inf")

    def lookup(self, device_id: str) -> DeviceRecord | None:
        return self._devices.get(device_id)

    def __len__(self) -> int:
        return len(self._devices)

    def due(self) -> bool:
        return time.monotonic() - self._loaded_at >= self.refresh_s

    def refresh(self, conn: Connection) -> None:
        self._devices = load_devices(conn)
        self._loaded_at = time.monotonic()

    def fill(self, conn: Connection, device_ids: Iterable[str]) -> bool:
        """Look up devices missing from the cache; True if any was found."""
        missing = {d for d in device_ids if d not in self._devices}
        if not missing:
            return False
        found = load_devices(conn, missing)
        self._devices.update(found)
        return bool(found)

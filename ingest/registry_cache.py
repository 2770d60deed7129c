"""The device registry as ingest sees it: an in-memory copy, refreshed on a schedule and
on demand when an unknown device shows up (so a device registered a moment ago is
accepted at once, and a decommissioned one is refused within seconds)."""

from __future__ import annotations

import time

from ioc.storage.db import Connection
from ioc.storage.registry import load_devices
from ioc.telemetry.decoder import DeviceRecord


class RegistryCache:
    def __init__(self, refresh_s: float = 5.0, miss_refresh_s: float = 0.5) -> None:
        self.refresh_s = refresh_s
        self.miss_refresh_s = miss_refresh_s
        self._devices: dict[str, DeviceRecord] = {}
        self._loaded_at = float("-inf")

    def lookup(self, device_id: str) -> DeviceRecord | None:
        return self._devices.get(device_id)

    def __len__(self) -> int:
        return len(self._devices)

    def refresh(self, conn: Connection) -> None:
        self._devices = load_devices(conn)
        self._loaded_at = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self._loaded_at >= self.refresh_s

    def may_retry_miss(self) -> bool:
        """An unknown device was seen: is a fresh load allowed yet (rate-limited)?"""
        return time.monotonic() - self._loaded_at >= self.miss_refresh_s

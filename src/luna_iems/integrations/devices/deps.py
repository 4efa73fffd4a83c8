"""What the devices integration receives from the wiring (built in `bootstrap.Container.devices_deps`).

The poller writes readings and battery states through the time-series ingest, so it gets that
domain's dependencies, plus the settings (device file, templates, backoff).
"""

from __future__ import annotations

from dataclasses import dataclass

from luna_iems.settings import Settings
from luna_iems.timeseries.deps import TimeseriesDeps


@dataclass(frozen=True)
class DevicesDeps:
    settings: Settings
    timeseries: TimeseriesDeps

"""What the time-series domain receives from the wiring: built in `bootstrap`, never the whole `Container`.

Ingest, the MQTT subscriber and the scheduled jobs open their own sessions and read the settings
(retention, MQTT, job intervals). The simulator receives the same dataclass: it writes through the
time-series service and needs nothing else (and the wiring must not import `simulation/`, which
`decisions/` and `timeseries/` may not reach even indirectly). A new need (a port) becomes a field
here, built in `bootstrap.Container.timeseries_deps`, so the domain's reach stays visible in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from luna_iems.settings import Settings


@dataclass(frozen=True)
class TimeseriesDeps:
    session_factory: sessionmaker[Session]
    settings: Settings

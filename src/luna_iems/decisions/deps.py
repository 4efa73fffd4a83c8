"""What the decisions domain receives from the wiring: built in `bootstrap`, never the whole `Container`.

Rule, anomaly and forecast services take a session and the settings; the scheduled jobs open their
own sessions, so they get the session factory. A new need (a port) becomes a field here, built in
`bootstrap.Container.decisions_deps`, so the domain's reach stays visible in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from luna_iems.settings import Settings


@dataclass(frozen=True)
class DecisionsDeps:
    session_factory: sessionmaker[Session]
    settings: Settings

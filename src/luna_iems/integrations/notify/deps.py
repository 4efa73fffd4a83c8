"""What integrations/notify receives from the wiring: built in `bootstrap`, never the whole `Container`.

`publisher` is called only when an MQTT delivery is due, so a process without MQTT traffic opens no
broker connection; `mqtt_enabled` (MQTT_URL set) decides whether events get an MQTT delivery at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from luna_iems.ports import MessagePublisher
from luna_iems.settings import Settings


@dataclass(frozen=True)
class NotifyDeps:
    session_factory: sessionmaker[Session]
    settings: Settings
    publisher: Callable[[], MessagePublisher | None]
    mqtt_enabled: bool

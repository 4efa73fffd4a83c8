"""What dispatch receives from the wiring (built in `bootstrap.Container.dispatch_deps`).

`publisher` is None without MQTT_URL. `wakeup` is shared by the HTTP routes and the dispatcher thread:
an activation sets it, so the thread re-reads the active plan at once instead of at its next step.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from luna_iems.ports import MessagePublisher
from luna_iems.settings import Settings


@dataclass(frozen=True)
class DispatchDeps:
    session_factory: sessionmaker[Session]
    settings: Settings
    publisher: MessagePublisher | None
    wakeup: threading.Event

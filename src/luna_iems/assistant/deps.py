"""What the assistant domain receives from the wiring: built in `bootstrap`, never the whole `Container`.

It opens its own sessions to call the other domains' services, reads the settings (site calendar,
default market and tariff) and, when one is configured, talks to the chat model through the
tool-calling port. A new need (a port) becomes a field here, built in
`bootstrap.Container.assistant_deps`, so the domain's reach stays visible in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from luna_iems.ports import Generator
from luna_iems.settings import Settings


@dataclass(frozen=True)
class AssistantDeps:
    session_factory: sessionmaker[Session]
    settings: Settings
    # None: no chat model configured; the intent parser answers the common questions.
    generator: Generator | None

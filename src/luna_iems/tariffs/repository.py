"""SQL of the tariffs domain (no logic)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from luna_iems.tariffs.models import TariffVersion


def list_versions(*, session: Session, site: str) -> list[TariffVersion]:
    """The site's versions, oldest `valid_from` first."""
    query = select(TariffVersion).where(TariffVersion.site == site).order_by(TariffVersion.valid_from)
    return list(session.scalars(query))


def get_version(*, session: Session, site: str, valid_from: date) -> TariffVersion | None:
    query = select(TariffVersion).where(TariffVersion.site == site, TariffVersion.valid_from == valid_from)
    return session.scalars(query).one_or_none()


def add_version(*, session: Session, version: TariffVersion) -> None:
    session.add(version)
    session.flush()


def delete_version(*, session: Session, version: TariffVersion) -> None:
    session.delete(version)
    session.flush()

"""SQL of the live stream: what was written since a point in time (readings by ingest batch, alerts,
setpoints). Read only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from luna_iems.decisions.models import Alert
from luna_iems.integrations.dispatch.models import DispatchPlan, DispatchSetpoint
from luna_iems.timeseries.models import DataQuality, IngestBatch, Meter, SmartMeterReading

LIMIT = 500  # rows of one kind per poll; the rest come with the next poll


def reading_batches_since(*, session: Session, since: datetime) -> list[Any]:
    """(batch_id, created_at) of reading batches written at or after `since`, oldest first."""
    query = (
        select(IngestBatch.batch_id, IngestBatch.created_at)
        .where(IngestBatch.kind == "readings", IngestBatch.created_at >= since)
        .order_by(IngestBatch.created_at)
        .limit(LIMIT)
    )
    return list(session.execute(query).all())


def meters_of_batches(*, session: Session, batch_ids: Sequence[uuid.UUID]) -> list[Any]:
    """(meter_id, site) of every meter a batch wrote (the batch's quality report names each series)."""
    if not batch_ids:
        return []
    query = (
        select(Meter.meter_id, Meter.site)
        .join(DataQuality, DataQuality.series == Meter.meter_id)
        .where(DataQuality.batch_id.in_(batch_ids))
        .distinct()
    )
    return list(session.execute(query).all())


def latest_reading(*, session: Session, meter_id: str) -> SmartMeterReading | None:
    query = (
        select(SmartMeterReading)
        .where(SmartMeterReading.meter_id == meter_id)
        .order_by(SmartMeterReading.ts.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def alerts_since(*, session: Session, since: datetime) -> list[Any]:
    """(alert, site of its meter or None) raised at or after `since`, oldest first."""
    query = (
        select(Alert, Meter.site)
        .outerjoin(Meter, Meter.meter_id == Alert.meter_id)
        .where(Alert.created_at >= since)
        .order_by(Alert.created_at)
        .limit(LIMIT)
    )
    return list(session.execute(query).all())


def setpoints_since(*, session: Session, since: datetime) -> list[Any]:
    """(setpoint, its plan's site) sent at or after `since`, oldest first."""
    query = (
        select(DispatchSetpoint, DispatchPlan.site)
        .join(DispatchPlan, DispatchPlan.plan_id == DispatchSetpoint.plan_id)
        .where(DispatchSetpoint.sent_at >= since)
        .order_by(DispatchSetpoint.sent_at)
        .limit(LIMIT)
    )
    return list(session.execute(query).all())

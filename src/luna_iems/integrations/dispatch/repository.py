"""SQL of integrations/dispatch: plans, setpoints, and the few reads of other domains' tables it needs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from luna_iems.decisions.models import Alert
from luna_iems.integrations.dispatch.models import DispatchPlan, DispatchSetpoint
from luna_iems.timeseries.models import BatteryState


def active_plan(*, session: Session) -> DispatchPlan | None:
    query = (
        select(DispatchPlan).where(DispatchPlan.status == "active").order_by(DispatchPlan.created_at.desc())
    )
    return session.scalars(query.limit(1)).first()


def latest_plan(*, session: Session) -> DispatchPlan | None:
    """The newest plan whatever its status (GET /dispatch shows a stale plan and why it stopped)."""
    return session.scalars(select(DispatchPlan).order_by(DispatchPlan.created_at.desc()).limit(1)).first()


def get_plan(*, session: Session, plan_id: uuid.UUID) -> DispatchPlan | None:
    return session.get(DispatchPlan, plan_id)


def add_plan(*, session: Session, plan: DispatchPlan) -> None:
    session.add(plan)
    session.flush()


def end_active_plans(*, session: Session, status: str, reason: str, at: datetime) -> None:
    session.execute(
        update(DispatchPlan)
        .where(DispatchPlan.status == "active")
        .values(status=status, end_reason=reason, ended_at=at)
    )


def sent_steps(*, session: Session, plan_id: uuid.UUID) -> set[datetime]:
    """Step starts of the plan that already have a setpoint row (sent or failed)."""
    query = select(DispatchSetpoint.step_at).where(DispatchSetpoint.plan_id == plan_id).distinct()
    return set(session.scalars(query).all())


def add_setpoints(*, session: Session, rows: Sequence[DispatchSetpoint]) -> None:
    session.add_all(rows)
    session.flush()


def list_setpoints(*, session: Session, plan_id: uuid.UUID | None, limit: int) -> Sequence[DispatchSetpoint]:
    """Newest first."""
    query = select(DispatchSetpoint)
    if plan_id is not None:
        query = query.where(DispatchSetpoint.plan_id == plan_id)
    order = (DispatchSetpoint.sent_at.desc(), DispatchSetpoint.device)
    return session.scalars(query.order_by(*order).limit(limit)).all()


def latest_battery_state(*, session: Session, battery_id: str) -> BatteryState | None:
    query = select(BatteryState).where(BatteryState.battery_id == battery_id).order_by(BatteryState.ts.desc())
    return session.scalars(query.limit(1)).first()


def battery_ids(*, session: Session, site: str) -> list[str]:
    query = select(BatteryState.battery_id).where(BatteryState.site == site).distinct()
    return sorted(session.scalars(query).all())


def open_alert_count(*, session: Session) -> int:
    query = select(func.count()).select_from(Alert).where(Alert.acknowledged_at.is_(None))
    return int(session.scalar(query) or 0)


def alert_exists(*, session: Session, fingerprint: str) -> bool:
    return session.scalar(select(Alert.alert_id).where(Alert.fingerprint == fingerprint)) is not None


def add_alert(*, session: Session, alert: Alert) -> None:
    session.add(alert)
    session.flush()

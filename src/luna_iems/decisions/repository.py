"""SQL of the decisions domain: rules, alerts, scenarios. No logic beyond the query."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from luna_iems.decisions.models import Alert, Rule, Scenario
from luna_iems.decisions.schemas import AlertQuery


# --- rules --------------------------------------------------------------------------------------------
def get_rule(*, session: Session, rule_id: uuid.UUID) -> Rule | None:
    return session.get(Rule, rule_id)


def get_rule_by_name(*, session: Session, name: str) -> Rule | None:
    return session.scalars(select(Rule).where(Rule.name == name)).first()


def list_rules(*, session: Session, enabled: bool | None = None) -> Sequence[Rule]:
    query = select(Rule).order_by(Rule.name)
    if enabled is not None:
        query = query.where(Rule.enabled == enabled)
    return session.scalars(query).all()


def add_rule(*, session: Session, rule: Rule) -> Rule:
    session.add(rule)
    session.flush()
    return rule


def delete_rule(*, session: Session, rule: Rule) -> None:
    session.delete(rule)
    session.flush()


# --- alerts -------------------------------------------------------------------------------------------
def get_alert(*, session: Session, alert_id: uuid.UUID) -> Alert | None:
    return session.get(Alert, alert_id)


def alerts_by_fingerprint(*, session: Session, fingerprints: Sequence[str]) -> dict[str, Alert]:
    if not fingerprints:
        return {}
    rows = session.scalars(select(Alert).where(Alert.fingerprint.in_(fingerprints))).all()
    return {a.fingerprint: a for a in rows}


def overlapping_alert(
    *, session: Session, meter_id: str, field: str, kind: str, start: datetime, end: datetime
) -> Alert | None:
    """The alert of this meter, field and kind whose span overlaps or touches [start, end), if any."""
    query = (
        select(Alert)
        .where(
            Alert.meter_id == meter_id,
            Alert.field == field,
            Alert.kind == kind,
            Alert.start_at <= end,
            Alert.end_at >= start,
        )
        .order_by(Alert.start_at)
    )
    return session.scalars(query).first()


def rule_counts(*, session: Session) -> tuple[int, int]:
    """(rules, enabled rules)."""
    total = session.scalar(select(func.count()).select_from(Rule)) or 0
    enabled = session.scalar(select(func.count()).select_from(Rule).where(Rule.enabled.is_(True))) or 0
    return int(total), int(enabled)


def open_alert_counts(*, session: Session) -> dict[str, int]:
    """Unacknowledged alerts by severity."""
    rows = session.execute(
        select(Alert.severity, func.count()).where(Alert.acknowledged_at.is_(None)).group_by(Alert.severity)
    ).all()
    return {str(severity): int(count) for severity, count in rows}


def add_alerts(*, session: Session, alerts: Sequence[Alert]) -> None:
    session.add_all(alerts)
    session.flush()


def list_alerts(*, session: Session, query: AlertQuery) -> tuple[Sequence[Alert], int]:
    statement = select(Alert)
    if query.acknowledged is not None:
        acknowledged = Alert.acknowledged_at.is_not(None)
        statement = statement.where(acknowledged if query.acknowledged else ~acknowledged)
    equals = [(Alert.severity, query.severity), (Alert.kind, query.kind), (Alert.meter_id, query.meter_id)]
    statement = statement.where(*(column == value for column, value in equals if value is not None))
    if query.since is not None:
        statement = statement.where(Alert.start_at >= query.since)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    page = statement.order_by(Alert.start_at.desc(), Alert.alert_id).limit(query.limit).offset(query.offset)
    return session.scalars(page).all(), int(total)


# --- scenarios ----------------------------------------------------------------------------------------
def add_scenario(*, session: Session, scenario: Scenario) -> Scenario:
    session.add(scenario)
    session.flush()
    return scenario


def get_scenario(*, session: Session, scenario_id: uuid.UUID) -> Scenario | None:
    return session.get(Scenario, scenario_id)


def list_scenarios(*, session: Session, limit: int, offset: int) -> tuple[Sequence[Scenario], int]:
    total = session.scalar(select(func.count()).select_from(Scenario)) or 0
    rows = session.scalars(
        select(Scenario).order_by(Scenario.created_at.desc()).limit(limit).offset(offset)
    ).all()
    return rows, int(total)

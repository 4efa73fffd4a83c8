"""Anomaly detection on stored readings, stored as alerts; listing and acknowledging alerts.

Detection reads each meter's 15-minute rollups (consumption, and production where the meter has any)
and, for drift, compares consumption with the median of the same quarter-hour in the four weeks before
(`expected_profile`).
An anomaly that overlaps an alert of the same meter, field and kind extends that alert instead of
adding another, so the scheduled job (which looks back `ANOMALY_WINDOW_H` every run) and repeated
calls over the same range never duplicate alerts.
"""

from __future__ import annotations

import logging
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from luna_iems.db.base import utcnow
from luna_iems.decisions import anomalies, anomaly_types, repository
from luna_iems.decisions import history as history_module
from luna_iems.decisions.models import Alert
from luna_iems.decisions.schemas import AlertList, AlertQuery, AlertRead, DetectRead, DetectRequest
from luna_iems.energy.calendar import german_public_holidays
from luna_iems.errors import NotFoundError
from luna_iems.settings import Settings
from luna_iems.timeseries import repository as timeseries_repository

log = logging.getLogger(__name__)

MAX_DETECT_DAYS = 31
WEEK = timedelta(days=7)
WEEK_STEPS = 7 * 96
REFERENCE_WEEKS = 4
FloatArray = history_module.FloatArray


def _fingerprint(meter_id: str, field: str, anomaly: anomaly_types.Anomaly) -> str:
    return f"anomaly:{meter_id}:{field}:{anomaly.kind}:{anomaly.start.isoformat()}"


def expected_profile(values: FloatArray, *, start: datetime, n: int, timezone: str) -> FloatArray:
    """What the last `n` steps of `values` should look like: per quarter-hour, the median of the same
    quarter-hour in the previous `REFERENCE_WEEKS` weeks (whichever of them have data). A median
    shrugs off one unusual reference week (a holiday, an outage); steps on a public holiday get no
    expectation (NaN), since the weeks before say nothing about them."""
    lead = values.size - n
    weeks = [
        values[lead - k * WEEK_STEPS : values.size - k * WEEK_STEPS] for k in range(1, REFERENCE_WEEKS + 1)
    ]
    stacked = np.vstack([w for w in weeks if w.size == n])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no expectation there
        expected: FloatArray = np.nanmedian(stacked, axis=0)
    tz = ZoneInfo(timezone)
    days = np.array(
        [(start + timedelta(minutes=15 * i)).astimezone(tz).date() for i in range(n)], dtype="datetime64[D]"
    )
    years = sorted({int(str(d)[:4]) for d in (days.min(), days.max())}) if n else []
    expected[np.isin(days, german_public_holidays(years))] = np.nan
    return expected


def detect_meter(
    *, session: Session, meter_id: str, ts_from: datetime, ts_to: datetime
) -> tuple[int, list[Alert], int]:
    """Detect anomalies of one meter over [ts_from, ts_to); returns (anomalies, alerts touched, new).

    Consumption: spikes, flatlines, gaps and drift against `expected_profile`. Production: gaps,
    flatlines and spikes at night (the detector ignores daytime PV jumps: clouds make them normal); no
    drift, since past weeks say nothing about this week's weather.
    """
    scope = history_module.resolve_scope(session=session, meter_id=meter_id, site=None)
    ts_from = history_module.floor_to_step(ts_from, 15)
    lead = REFERENCE_WEEKS * WEEK
    energy = history_module.load_energy(session=session, scope=scope, ts_from=ts_from - lead, ts_to=ts_to)
    offset = REFERENCE_WEEKS * WEEK_STEPS
    n = len(energy) - offset
    found = 0
    touched: list[Alert] = []
    new = 0
    runs: list[tuple[str, FloatArray, FloatArray | None, anomaly_types.DetectorConfig]] = [
        (
            "consumption_kw",
            energy.consumption_kw,
            expected_profile(energy.consumption_kw, start=ts_from, n=n, timezone=scope.timezone),
            anomaly_types.DEFAULT_CONFIG,
        )
    ]
    if np.nan_to_num(energy.production_kw[offset:]).any():
        runs.append(("production_kw", energy.production_kw, None, anomaly_types.DEFAULT_CONFIG))
    for field, values, expected, config in runs:
        detected = anomalies.detect(
            start=ts_from,
            step_minutes=15,
            values=values[offset:],
            expected=expected,
            field=field,
            config=config,
        )
        found += len(detected)
        for anomaly in detected:
            alert, created = _merge(session, meter_id, field, anomaly)
            touched.append(alert)
            new += created
    return found, touched, new


def _merge(session: Session, meter_id: str, field: str, anomaly: anomaly_types.Anomaly) -> tuple[Alert, bool]:
    """Extend an overlapping alert of the same meter, field and kind, or add a new one."""
    existing = repository.overlapping_alert(
        session=session,
        meter_id=meter_id,
        field=field,
        kind=anomaly.kind,
        start=anomaly.start,
        end=anomaly.end,
    )
    evidence = {**anomaly.evidence, "detector": "decisions.anomalies"}
    if existing is not None:
        existing.start_at = min(existing.start_at, anomaly.start)
        existing.end_at = max(existing.end_at, anomaly.end)
        if anomaly.score >= (existing.score or 0.0):
            existing.score, existing.message, existing.evidence = anomaly.score, anomaly.message, evidence
            existing.severity = anomaly.severity
        session.flush()
        return existing, False
    alert = Alert(
        fingerprint=_fingerprint(meter_id, field, anomaly),
        source="anomaly",
        kind=anomaly.kind,
        severity=anomaly.severity,
        meter_id=meter_id,
        field=field,
        start_at=anomaly.start,
        end_at=anomaly.end,
        score=anomaly.score,
        message=anomaly.message,
        evidence=evidence,
    )
    repository.add_alerts(session=session, alerts=[alert])
    return alert, True


def detect(*, session: Session, request: DetectRequest) -> DetectRead:
    """Run detection over a range (at most 31 days) for one meter or every meter; store alerts."""
    history_module.check_span(request.ts_from, request.ts_to, max_days=MAX_DETECT_DAYS, what="detection")
    meter_ids = (
        [request.meter_id]
        if request.meter_id is not None
        else timeseries_repository.all_meter_ids(session=session)
    )
    found, new, alerts = 0, 0, []
    for meter_id in meter_ids:
        count, touched, created = detect_meter(
            session=session, meter_id=meter_id, ts_from=request.ts_from, ts_to=request.ts_to
        )
        found, new = found + count, new + created
        alerts += touched
    session.commit()
    unique = list({a.alert_id: a for a in alerts}.values())
    return DetectRead(
        meters=len(meter_ids),
        anomalies=found,
        new_alerts=new,
        alerts=[AlertRead.model_validate(a) for a in unique],
    )


def detect_recent(*, session: Session, settings: Settings, now: datetime | None = None) -> int:
    """The scheduled job: every meter over the last `anomaly_window_h`; returns the new alerts."""
    ts_to = history_module.floor_to_step(now or datetime.now(UTC), 15)
    ts_from = ts_to - timedelta(hours=settings.anomaly_window_h)
    new = 0
    for meter_id in timeseries_repository.all_meter_ids(session=session):
        try:
            new += detect_meter(session=session, meter_id=meter_id, ts_from=ts_from, ts_to=ts_to)[2]
        except NotFoundError:  # deleted while the job ran
            session.rollback()
            continue
        session.commit()
    return new


def raise_alert(
    *,
    session: Session,
    fingerprint: str,
    source: str,
    kind: str,
    severity: str,
    start_at: datetime,
    end_at: datetime,
    message: str,
    evidence: dict[str, object],
) -> bool:
    """Store an alert from another part of the system (e.g. the price fetch), once per `fingerprint`:
    raising it again updates its message, evidence and end instead of adding a duplicate. Flushes,
    does not commit. Returns True when the alert is new."""
    existing = repository.alerts_by_fingerprint(session=session, fingerprints=[fingerprint]).get(fingerprint)
    if existing is not None:
        existing.message, existing.evidence = message, dict(evidence)
        existing.end_at = max(existing.end_at, end_at)
        session.flush()
        return False
    alert = Alert(
        fingerprint=fingerprint,
        source=source,
        kind=kind,
        severity=severity,
        start_at=start_at,
        end_at=end_at,
        message=message,
        evidence=dict(evidence),
    )
    repository.add_alerts(session=session, alerts=[alert])
    return True


def list_alerts(*, session: Session, query: AlertQuery) -> AlertList:
    rows, total = repository.list_alerts(session=session, query=query)
    return AlertList(items=[AlertRead.model_validate(a) for a in rows], total=total)


def acknowledge(*, session: Session, alert_id: uuid.UUID, by: str) -> AlertRead:
    """Mark an alert as seen (idempotent: a second acknowledgement keeps the first time and key)."""
    alert = repository.get_alert(session=session, alert_id=alert_id)
    if alert is None:
        raise NotFoundError(f"alert {alert_id} not found", details={"alert_id": str(alert_id)})
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = utcnow(), by
        session.commit()
    return AlertRead.model_validate(alert)

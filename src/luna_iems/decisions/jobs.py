"""Scheduled work of the decisions domain: rule evaluation and anomaly detection."""

from __future__ import annotations

import logging

from luna_iems.decisions import alert_service, rule_service
from luna_iems.decisions.deps import DecisionsDeps
from luna_iems.scheduler import Scheduler

log = logging.getLogger("luna_iems.decisions.jobs")


def evaluate_rules(deps: DecisionsDeps) -> int:
    """Evaluate every enabled rule on the latest complete quarter-hour; returns the firings."""
    with deps.session_factory() as session:
        fired = rule_service.evaluate_due(session=session, settings=deps.settings)
    if fired:
        log.info("rules fired", extra={"firings": fired})
    return fired


def detect_anomalies(deps: DecisionsDeps) -> int:
    """Detect anomalies of every meter over the last ANOMALY_WINDOW_H; returns the new alerts."""
    with deps.session_factory() as session:
        new = alert_service.detect_recent(session=session, settings=deps.settings)
    if new:
        log.info("anomalies detected", extra={"new_alerts": new})
    return new


def register(scheduler: Scheduler, deps: DecisionsDeps, *, start_now: bool = False) -> None:
    settings = deps.settings
    scheduler.every(
        "decisions.rules", settings.rules_interval_s, lambda: evaluate_rules(deps), start_now=start_now
    )
    scheduler.every(
        "decisions.anomalies",
        settings.anomaly_interval_s,
        lambda: detect_anomalies(deps),
        start_now=start_now,
    )

"""Scheduled work of integrations/notify: one job feeds the outbox and sends what is due."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
from sqlalchemy.exc import SQLAlchemyError

from luna_iems.db.base import utcnow
from luna_iems.integrations.notify import outbox
from luna_iems.integrations.notify.deps import NotifyDeps
from luna_iems.scheduler import Scheduler

log = logging.getLogger("luna_iems.integrations.notify.jobs")
JOB_ID = "integrations.notify"


def run_once(deps: NotifyDeps, *, clock: outbox.Clock = utcnow) -> outbox.DeliveryCounts:
    """Feed new alerts into the outbox, then deliver what is due; returns what happened to the
    deliveries attempted. The HTTP client is opened only when a webhook delivery is due."""
    settings = deps.settings
    clients: list[httpx.Client] = []

    def http() -> httpx.Client:
        if not clients:
            clients.append(httpx.Client(timeout=settings.notify_timeout_s, follow_redirects=False))
        return clients[0]

    try:
        with deps.session_factory() as session:
            try:
                outbox.feed(session=session, settings=settings, mqtt_enabled=deps.mqtt_enabled, now=clock())
            except SQLAlchemyError:  # e.g. a webhook deleted mid-run: the next run feeds again
                session.rollback()
                log.exception("notification feed failed; deliveries still go out")
            counts = outbox.deliver_due(
                session=session, settings=settings, publisher=deps.publisher, http=http, clock=clock
            )
    finally:
        for client in clients:
            client.close()
    if counts.delivered or counts.dead or counts.retried:
        log.info(
            "notifications sent",
            extra={"delivered": counts.delivered, "retried": counts.retried, "dead": counts.dead},
        )
    return counts


def register(scheduler: Scheduler, deps: NotifyDeps, *, run: Callable[[], object] | None = None) -> bool:
    """Run the job every NOTIFY_INTERVAL_S (not at all when it is 0); returns whether it was added."""
    interval = deps.settings.notify_interval_s
    if interval <= 0:
        return False
    scheduler.every(JOB_ID, interval, run or (lambda: run_once(deps)))
    return True

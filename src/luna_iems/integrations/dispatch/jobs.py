"""Runtime of dispatch: the dispatcher thread, the re-plan job and the Home Assistant job.

The dispatcher is a dedicated thread, not a polling job: it asks the service what is due next
(`service.next_action`, which already builds the payloads), sleeps until exactly then, and publishes.
An activation sets `deps.wakeup`, which cuts the sleep short so a new plan is read at once. With
nothing active it sleeps up to IDLE_S and looks again (a plan activated by another process).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from luna_iems.integrations.dispatch import discovery_service, service
from luna_iems.integrations.dispatch.deps import DispatchDeps
from luna_iems.scheduler import Scheduler

log = logging.getLogger("luna_iems.dispatch.jobs")

IDLE_S = 60.0
RETRY_S = 5.0


class Dispatcher:
    """Publishes each step's setpoints at the step's start (see the module docstring)."""

    def __init__(self, deps: DispatchDeps, *, clock: Callable[[], datetime] | None = None) -> None:
        self._deps = deps
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cycles = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="luna-dispatcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._deps.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        wakeup = self._deps.wakeup
        while not self._stop.is_set():
            try:
                wait = self._sleep_then_act()
            except Exception:  # the thread must survive a database or broker hiccup
                log.exception("dispatcher cycle failed; retrying")
                wait = RETRY_S
            if wait > 0 and wakeup.wait(wait):
                wakeup.clear()

    def _sleep_then_act(self) -> float:
        """Prepare the next action, sleep until it is due (unless woken), then act without re-reading.
        Returns how long to sleep before the next preparation (0: prepare again at once)."""
        now = self._clock()
        pending = service.next_action(deps=self._deps, now=now)
        if pending is None:
            return IDLE_S
        wait = (pending.at - now).total_seconds()
        wakeup = self._deps.wakeup
        if wait > 0:
            if wakeup.wait(wait):  # a new plan or a stop: prepare again
                wakeup.clear()
                return 0.0
            # Event.wait may return a hair early: never publish a step before it starts.
            while (late := (pending.at - self._clock()).total_seconds()) > 0:
                if wakeup.wait(late):
                    wakeup.clear()
                    return 0.0
        if self._stop.is_set():
            return 0.0
        service.execute(deps=self._deps, pending=pending, clock=self._clock)
        self.cycles += 1
        return 0.0


@dataclass
class DispatchRuntime:
    dispatcher: Dispatcher | None = None
    discovery: discovery_service.DiscoveryState = field(default_factory=discovery_service.DiscoveryState)

    def stop(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()


def replan(deps: DispatchDeps) -> None:
    plan_id = service.replan(deps=deps)
    if plan_id is not None:
        log.info("re-planned", extra={"plan_id": str(plan_id)})


def publish_home_assistant(deps: DispatchDeps, state: discovery_service.DiscoveryState) -> int:
    return discovery_service.publish(deps=deps, state=state)


def start(deps: DispatchDeps, scheduler: Scheduler | None) -> DispatchRuntime:
    """Start what the settings turn on: the dispatcher (DISPATCH_ENABLED) and, on the scheduler when it
    runs, the re-plan job (DISPATCH_REPLAN_MINUTES) and Home Assistant (HA_DISCOVERY_ENABLED)."""
    settings = deps.settings
    runtime = DispatchRuntime()
    if deps.publisher is None:
        return runtime
    if settings.dispatch_enabled:
        runtime.dispatcher = Dispatcher(deps)
        runtime.dispatcher.start()
    if scheduler is not None:
        if settings.dispatch_enabled and settings.dispatch_replan_minutes > 0:
            scheduler.every("dispatch.replan", settings.dispatch_replan_minutes * 60, lambda: replan(deps))
        if settings.ha_discovery_enabled:
            state = runtime.discovery
            scheduler.every(
                "dispatch.homeassistant",
                settings.ha_state_interval_s,
                lambda: publish_home_assistant(deps, state),
                start_now=True,
            )
    return runtime

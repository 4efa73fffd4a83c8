"""The in-process job scheduler (APScheduler): one instance per service process.

Domains declare their jobs in their own `jobs.py` and register them here at start-up. A job that
raises is logged and retried at its next run; jobs never overlap themselves (max_instances=1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("luna_iems.scheduler")


JobObserver = Callable[[str, float, bool], None]  # (job id, seconds, failed)


class Scheduler:
    def __init__(self, *, observe: JobObserver | None = None) -> None:
        self._scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1}
        )
        self.last_runs: dict[str, datetime] = {}
        self._observe = observe

    def every(self, job_id: str, seconds: float, func: Callable[[], Any], *, start_now: bool = False) -> None:
        """Run `func` every `seconds` (replacing a job with the same id)."""

        def run() -> None:
            started, failed = time.perf_counter(), False
            try:
                func()
            except Exception:  # a failing job must not kill the scheduler thread
                failed = True
                log.exception("job failed", extra={"job": job_id})
            finally:
                self.last_runs[job_id] = datetime.now(tz=UTC)
                if self._observe is not None:
                    self._observe(job_id, time.perf_counter() - started, failed)

        # An explicit next_run_time=None would add the job paused: pass it only to start at once.
        first_run = {"next_run_time": datetime.now(tz=UTC)} if start_now else {}
        self._scheduler.add_job(
            run, "interval", seconds=seconds, id=job_id, replace_existing=True, **first_run
        )

    def remove(self, job_id: str) -> bool:
        if self._scheduler.get_job(job_id) is None:
            return False
        self._scheduler.remove_job(job_id)
        return True

    def has(self, job_id: str) -> bool:
        return self._scheduler.get_job(job_id) is not None

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs())

    def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

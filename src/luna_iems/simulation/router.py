"""HTTP routes of the simulator: backfill, live start/stop, status."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from luna_iems.deps import AnalystKey, SchedulerDep, TimeseriesDepsDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, BODY_ERRORS, error_responses
from luna_iems.simulation import service as sim_service
from luna_iems.simulation.schemas import BackfillResult, MarketBackfill, MeterBackfill, SimStart, SimStatus

router = APIRouter(prefix="/sim", tags=["simulation"], responses=AUTHENTICATED_ERRORS)


def _state(request: Request) -> sim_service.LiveState:
    state: sim_service.LiveState = request.app.state.sim_state
    return state


@router.post("/meter/generate", response_model=BackfillResult, responses=BODY_ERRORS | error_responses(404))
async def generate_meters(body: MeterBackfill, deps: TimeseriesDepsDep, _: AnalystKey) -> BackfillResult:
    """Backfill simulated readings (15-minute means) for the configured meters over [from, to)."""
    config = sim_service.load_config(deps)
    meters = sim_service.select_meters(config, meter_ids=body.meter_ids, count=body.count)
    return await run_in_threadpool(
        lambda: sim_service.backfill_meters(
            deps=deps,
            ts_from=body.ts_from,
            ts_to=body.ts_to,
            meters=meters,
            scale=body.scale,
            noise=body.noise,
        )
    )


@router.post("/market/generate", response_model=BackfillResult, responses=BODY_ERRORS)
async def generate_market(body: MarketBackfill, deps: TimeseriesDepsDep, _: AnalystKey) -> BackfillResult:
    """Backfill simulated day-ahead prices (EUR/MWh) over [from, to)."""
    return await run_in_threadpool(
        lambda: sim_service.backfill_prices(
            deps=deps, ts_from=body.ts_from, ts_to=body.ts_to, step_minutes=body.step_minutes
        )
    )


@router.post("/start", response_model=SimStatus, responses=BODY_ERRORS)
def start(
    request: Request, body: SimStart, deps: TimeseriesDepsDep, scheduler: SchedulerDep, _: AnalystKey
) -> SimStatus:
    """Start live simulation: a reading per simulated meter every `interval_s` (1-5 s)."""
    state = _state(request)
    state.config = sim_service.load_config(deps)  # a start picks up edits to sim.yml
    state.meters_ready = False
    state.interval_s = body.interval_s or state.config.live_interval_s
    state.started_at = datetime.now(tz=UTC)

    def tick() -> None:
        try:
            sim_service.live_tick(deps, state)
            state.last_error = None
        except Exception as exc:  # reported in /sim/status; the scheduler also logs it
            state.last_error = str(exc)
            raise

    scheduler.every(sim_service.LIVE_JOB_ID, state.interval_s, tick, start_now=True)
    scheduler.start()
    return sim_service.status(state, running=True)


@router.post("/stop", response_model=SimStatus)
def stop(request: Request, scheduler: SchedulerDep, _: AnalystKey) -> SimStatus:
    scheduler.remove(sim_service.LIVE_JOB_ID)
    return sim_service.status(_state(request), running=False)


@router.get("/status", response_model=SimStatus)
def get_status(request: Request, scheduler: SchedulerDep, _: ViewerKey) -> SimStatus:
    return sim_service.status(_state(request), running=scheduler.has(sim_service.LIVE_JOB_ID))

"""Health, readiness, metrics (public) and the status summary (viewer and up)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from luna_iems.deps import OpsDepsDep, OptionalKey, SchedulerDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, error_responses
from luna_iems.ops import service as ops_service
from luna_iems.ops.schemas import Health, Liveness, Readiness, StatusSummary

# 422: a NUL character in the query string is refused on every route (ops.input_guard).
public_router = APIRouter(tags=["ops"], responses=error_responses(422))
router = APIRouter(tags=["ops"], responses=AUTHENTICATED_ERRORS)
# Public, and more detailed with a valid key: the key is optional (`{}`: no security requirement).
_OPTIONAL_KEY: dict[str, Any] = {"security": [{}]}

_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": Readiness, "description": "A required backend does not answer"}
}


@public_router.get("/health/live", response_model=Liveness)
def live() -> Liveness:
    """The process is up. Checks nothing else."""
    return ops_service.liveness()


@public_router.get(
    "/health/ready", response_model=Readiness, responses=_NOT_READY, openapi_extra=_OPTIONAL_KEY
)
async def ready(deps: OpsDepsDep, caller: OptionalKey) -> JSONResponse:
    """Every required backend answers (200), or 503 naming the failing components. Details (hosts,
    users, paths, errors) only for a caller with a valid API key."""
    result = await run_in_threadpool(ops_service.readiness, deps, detailed=caller is not None)
    return JSONResponse(result.model_dump(mode="json"), status_code=200 if result.status == "ready" else 503)


@public_router.get(
    "/health", response_model=Health, responses={503: {"model": Health}}, openapi_extra=_OPTIONAL_KEY
)
async def health(deps: OpsDepsDep, caller: OptionalKey) -> JSONResponse:
    """Liveness and readiness together; 503 when not ready. Details only with a valid API key."""
    readiness = await run_in_threadpool(ops_service.readiness, deps, detailed=caller is not None)
    result = Health(live=ops_service.liveness(), ready=readiness)
    return JSONResponse(
        result.model_dump(mode="json"), status_code=200 if result.ready.status == "ready" else 503
    )


@public_router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text exposition: request counts and latency by route and status, build info."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/status/summary", response_model=StatusSummary)
def status_summary(deps: OpsDepsDep, scheduler: SchedulerDep, _: ViewerKey) -> StatusSummary:
    """Backend kinds and reachability, row counts per table, schema revision, hypertables or not;
    documents and vectors; rules, open alerts and when each scheduled job last ran."""
    jobs = {job_id: scheduler.last_runs.get(job_id) for job_id in scheduler.job_ids()}
    return ops_service.status_summary(deps, jobs=jobs)

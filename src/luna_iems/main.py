"""The FastAPI application: `create_app(settings)` and its lifespan."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from luna_iems import __version__
from luna_iems.admin import jobs as admin_jobs
from luna_iems.admin import service as admin_service
from luna_iems.admin.router import auth_router
from luna_iems.admin.router import router as admin_router
from luna_iems.admin.schemas import ApiKeyCreated
from luna_iems.api_docs import DocumentedAPI
from luna_iems.assistant.router import router as assistant_router
from luna_iems.bootstrap import Container, build_container
from luna_iems.db import migrate
from luna_iems.decisions import jobs as decisions_jobs
from luna_iems.decisions import rule_service
from luna_iems.decisions.router import router as decisions_router
from luna_iems.errors import install_error_handlers
from luna_iems.integrations.devices import jobs as devices_jobs
from luna_iems.integrations.devices.poller import DevicePoller
from luna_iems.integrations.devices.router import router as devices_router
from luna_iems.integrations.dispatch import jobs as dispatch_jobs
from luna_iems.integrations.dispatch.router import router as dispatch_router
from luna_iems.integrations.notify import jobs as notify_jobs
from luna_iems.integrations.notify.router import router as notify_router
from luna_iems.integrations.prices import jobs as prices_jobs
from luna_iems.integrations.prices.router import router as prices_router
from luna_iems.integrations.stream.router import router as stream_router
from luna_iems.knowledge import jobs as knowledge_jobs
from luna_iems.knowledge import seed as knowledge_seed
from luna_iems.knowledge.router import router as knowledge_router
from luna_iems.ops.input_guard import NulGuardMiddleware
from luna_iems.ops.logs import configure_logging
from luna_iems.ops.metrics import Metrics
from luna_iems.ops.middleware import BodyLimitMiddleware, RequestContextMiddleware
from luna_iems.ops.router import public_router as ops_public_router
from luna_iems.ops.router import router as ops_router
from luna_iems.scheduler import Scheduler
from luna_iems.settings import Settings, get_settings
from luna_iems.simulation import service as sim_service
from luna_iems.simulation.router import router as simulation_router
from luna_iems.tariffs.router import router as tariffs_router
from luna_iems.telemetry.events.router import router as telemetry_events_router
from luna_iems.telemetry.export.router import router as learn_router
from luna_iems.telemetry.memory.router import router as memory_router
from luna_iems.telemetry.recommend.router import router as recommend_router
from luna_iems.timeseries import jobs as timeseries_jobs
from luna_iems.timeseries.mqtt import MqttSubscriber
from luna_iems.timeseries.router import router as timeseries_router
from luna_iems.web.docs import install_api_docs
from luna_iems.web.static import WebAppRoute

log = logging.getLogger("luna_iems")

OPENAPI_TAGS = [
    {"name": "ops", "description": "Health, readiness, metrics and the status summary."},
    {"name": "meters", "description": "Meters: site, kind, location, time zone, OBIS mapping."},
    {"name": "ingest", "description": "Readings and prices: JSON, CSV, DSMR P1, SML, ENTSO-E A44."},
    {"name": "queries", "description": "Readings and prices per bucket, KPIs, data quality."},
    {"name": "simulation", "description": "Simulated meters and prices: backfill and live mode."},
    {"name": "knowledge", "description": "Search the customer's documents and ask Luna, with citations."},
    {"name": "assistant", "description": "MCP: Luna's site-data tools for external assistants, by key role."},
    {"name": "documents", "description": "Stored documents: metadata, versions, chunks, delete, reindex."},
    {"name": "admin", "description": "API keys, audit trail, privacy and settings (admin role)."},
]


def startup(container: Container) -> ApiKeyCreated | None:
    """Migrate (when configured) and make sure an admin key exists; returns a newly created one."""
    settings = container.settings
    if settings.apply_migrations:
        revision = migrate.upgrade(container.engine)
        log.info("database schema at revision %s", revision, extra={"db": container.engine.dialect.name})
    # Before anything ingests: remove what a crashed ingest left behind, requeue unfinished ingests.
    knowledge_jobs.start(container.knowledge_deps)
    operator_key = settings.luna_admin_key.get_secret_value() if settings.luna_admin_key else None
    with container.session_factory() as session:
        return admin_service.ensure_admin_key(session=session, operator_key=operator_key)


def print_welcome(settings: Settings, created: ApiKeyCreated | None, seeded: str | None = None) -> None:
    """The first thing a person sees: where the API lives and, once, the admin key."""
    host = "localhost" if settings.api_host in {"0.0.0.0", "127.0.0.1", "::"} else settings.api_host  # noqa: S104
    base = f"http://{host}:{settings.api_port}"
    web = (
        f"{base}/"
        if (settings.resolved_web_dir / "index.html").is_file()
        else f"{base}/ (not built: `make web`)"
    )
    lines = [
        "",
        f"  Luna-IEMS {__version__} is starting on {base}",
        f"  Web app:    {web}",
        f"  API docs:   {base}/docs",
        f"  Readiness:  {base}/health/ready",
    ]
    if seeded:
        lines.append(f"  {seeded[0].upper()}{seeded[1:]}")
    if created is not None:
        lines += [
            "",
            "  An admin API key was created. It is shown ONCE; store it now:",
            f"      {created.token}",
            f'  Try: curl -H "X-API-Key: {created.token}" {base}/status/summary',
        ]
    print("\n".join([*lines, ""]), file=sys.stdout, flush=True)


def _thread(name: str, target: Callable[[], object]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except Exception:  # a background start-up task must report, not crash the service
            log.exception("background task failed", extra={"task": name})

    thread = threading.Thread(target=run, name=f"luna-{name}", daemon=True)
    thread.start()
    return thread


def warm_up(container: Container) -> None:
    """Load the embedding model and the lexical index before the first question needs them."""
    warm = getattr(container.embedder, "warm_up", None)
    if callable(warm):
        warm()
    container.knowledge_index.ensure_loaded(container.session_factory)
    from luna_iems.ops.service import knowledge_status

    status = knowledge_status(container.ops_deps)
    if status is not None and status.reindex_needed:
        log.warning(status.detail, extra={"collection": status.collection})


def seed_and_warm_up(container: Container) -> tuple[str | None, list[threading.Thread]]:
    """Demo data for a fresh instance (the documents are indexed in the background) and the model
    warm-up; returns the line for the welcome banner and the background threads."""
    settings = container.settings
    seeded = None
    background: list[threading.Thread] = []
    if settings.seed_demo_data:
        # A fresh instance gets four simulated weeks to look at; existing data is never touched.
        seeded = sim_service.seed_demo(container.timeseries_deps)
        if seeded:
            with container.session_factory() as session:
                rules = rule_service.seed_example_rules(session=session, site="sim")
            seeded = f"{seeded}; {rules}" if rules else seeded
        knowledge = container.knowledge_deps
        if knowledge_seed.needs_seed(knowledge):
            background.append(_thread("seed-documents", lambda: knowledge_seed.seed_documents(knowledge)))
            seeded = (
                seeded + "; " if seeded else ""
            ) + "sample documents are being indexed in the background"
    if settings.embedding_warmup:
        background.append(_thread("warm-up", lambda: warm_up(container)))
    return seeded, background


def start_devices(container: Container) -> DevicePoller | None:
    """Field devices: polled in their own thread while DEVICES_CONFIG_PATH exists (None otherwise)."""
    poller = devices_jobs.start(container.devices_deps)
    if poller is not None:
        container.extra_checks.append(poller)
    return poller


def stop_devices(container: Container, poller: DevicePoller | None) -> None:
    if poller is not None:
        devices_jobs.stop(poller)
        container.extra_checks.remove(poller)


def register_jobs(scheduler: Scheduler, container: Container) -> None:
    """The jobs that start with the scheduler (the decisions jobs start after the demo seed)."""
    timeseries_jobs.register(scheduler, container.timeseries_deps)
    admin_jobs.register(scheduler, container.admin_deps)
    notify_jobs.register(scheduler, container.notify_deps)
    prices_jobs.register(scheduler, container.price_fetch_deps)  # off unless a price source is set


def include_routes(app: FastAPI, settings: Settings) -> None:
    """The API's routers, the self-hosted API docs, and last the web app (it answers only the paths
    that no API route owns)."""
    routers = (
        ops_public_router,
        ops_router,
        timeseries_router,
        simulation_router,
        knowledge_router,
        assistant_router,
        decisions_router,
        notify_router,
        prices_router,
        tariffs_router,
        devices_router,
        dispatch_router,
        stream_router,
        telemetry_events_router,
        memory_router,
        recommend_router,
        learn_router,
        admin_router,
        auth_router,
    )
    for router in routers:
        app.include_router(router)
    install_api_docs(app, web_dir=settings.resolved_web_dir)
    app.router.routes.append(WebAppRoute(web_dir=settings.resolved_web_dir, api_paths=lambda: api_paths(app)))


def api_paths(app: FastAPI) -> list[str]:
    """Every path the API serves: those of its OpenAPI document (every API route is in it) and the
    top-level ones outside it (/docs, /redoc, /openapi.json)."""
    top_level = [path for route in app.router.routes if isinstance(path := getattr(route, "path", None), str)]
    return [*app.openapi().get("paths", {}), *top_level]


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container else get_settings())
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = container or build_container(settings)
        app.state.container = active
        created = startup(active)
        scheduler = Scheduler(observe=metrics.observe_job)
        app.state.scheduler = scheduler
        app.state.sim_state = sim_service.LiveState()
        if settings.enable_scheduler:
            register_jobs(scheduler, active)
            scheduler.start()
        mqtt = None
        if settings.mqtt_url:
            mqtt = MqttSubscriber(active.timeseries_deps)
            active.extra_checks.append(mqtt)
            await mqtt.start()
        devices = app.state.device_poller = await run_in_threadpool(start_devices, active)
        seeded, background = await run_in_threadpool(seed_and_warm_up, active)
        # Dispatch (its own timer thread) and Home Assistant discovery: off unless configured.
        app.state.dispatch = dispatch = await run_in_threadpool(
            dispatch_jobs.start, active.dispatch_deps, scheduler if settings.enable_scheduler else None
        )
        if settings.enable_scheduler:
            # After the demo seed, and at once: a first start shows alerts and rule firings right away,
            # and detection never sees a half-written demo week.
            decisions_jobs.register(scheduler, active.decisions_deps, start_now=True)
        print_welcome(settings, created, seeded)
        try:
            yield
        finally:
            if mqtt is not None:
                await mqtt.stop()
                active.extra_checks.remove(mqtt)
            await run_in_threadpool(stop_devices, active, devices)
            await run_in_threadpool(dispatch.stop)
            scheduler.shutdown()
            knowledge_jobs.stop(active.knowledge_deps)  # a running ingest stops after its batch, queued
            for thread in background:
                thread.join(timeout=60)
            if container is None:
                active.close()

    app = DocumentedAPI(
        title="Luna-IEMS",
        version=__version__,
        summary="Self-hosted Intelligent Energy Management System: energy data, knowledge, decisions.",
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
        # Our own /docs and /redoc (web.docs): FastAPI's load their scripts from a CDN.
        docs_url=None,
        redoc_url=None,
        # Innermost (add_middleware wraps outside it): the NUL check reads bodies through the size
        # limit, and its 422s get request ids, metrics and audit rows.
        middleware=[Middleware(NulGuardMiddleware)],
    )
    app.state.metrics = metrics
    if container is not None:
        app.state.container = container

    def audit(**entry: Any) -> None:
        with app.state.container.session_factory() as session:
            admin_service.record_audit(session=session, **entry)

    install_error_handlers(app)
    # Our own limit rather than FastAPI's `max_body_size`: that one answers 413 in plain text.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        audit=audit,
        anonymous_audit_per_minute=settings.audit_anonymous_per_minute,
    )
    include_routes(app, settings)
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory luna_iems.main:app_factory`."""
    settings = get_settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    return create_app(settings)

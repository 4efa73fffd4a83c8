"""`luna`: the command line, built on the same settings and bootstrap as the API.

Expected failures exit non-zero with one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from luna_iems.admin import backup as backup_service
from luna_iems.admin import service as admin_service
from luna_iems.admin.schemas import (
    ApiKeyCreate,
    ApiKeyRead,
    BackupRead,
    BackupRestored,
    BackupVerified,
    Role,
)
from luna_iems.bootstrap import Container, build_container
from luna_iems.cli.learn import learn_app
from luna_iems.db import migrate
from luna_iems.errors import LunaError
from luna_iems.ops.schemas import StatusSummary
from luna_iems.settings import Settings, UnsafeSettingsError

app = typer.Typer(
    name="luna",
    help="Luna-IEMS: self-hosted Intelligent Energy Management System.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(
    help="Database schema (Alembic migrations shipped in the package).", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
sim_app = typer.Typer(help="Simulated meters and prices.", no_args_is_help=True)
forecast_app = typer.Typer(help="Forecasts from stored history.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(forecast_app, name="forecast")
app.add_typer(keys_app, name="keys")
app.add_typer(learn_app, name="learn")
app.add_typer(sim_app, name="sim")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


class CliError(Exception):
    """An expected failure: printed as one line, exit code 1."""


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings()
    except (ValidationError, UnsafeSettingsError) as exc:
        first = str(exc).strip().splitlines()
        raise CliError(f"invalid settings: {' '.join(first[:3])}") from exc


@contextmanager
def container_scope(*, migrate_first: bool = False) -> Iterator[Container]:
    container = build_container(load_settings())
    try:
        if migrate_first:
            migrate.upgrade(container.engine)
        yield container
    finally:
        container.close()


def run(action: Callable[[], T]) -> T:
    """Run `action`, turning expected failures into one line and a non-zero exit."""
    try:
        return action()
    except CliError as exc:
        raise fail(str(exc)) from None
    except LunaError as exc:
        raise fail(exc.message) from None
    except OperationalError as exc:
        raise fail(f"database not reachable: {str(exc.orig).strip().splitlines()[0]}") from None
    except SQLAlchemyError as exc:
        raise fail(f"database error: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise fail(str(exc)) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default API_PORT).")] = None,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development).")] = False,
) -> None:
    """Start the API (migrates first when APPLY_MIGRATIONS is true)."""
    import os

    import uvicorn

    from luna_iems.ops.preflight import run_preflight

    settings = run(load_settings)
    if host:
        os.environ["API_HOST"] = host
    if port:
        os.environ["API_PORT"] = str(port)
    settings = run(load_settings)
    report = run_preflight(settings=settings, scope="local")
    if not report.ok:
        for check in report.failures:
            err.print(f"[bold red]preflight:[/] {check.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    uvicorn.run(
        "luna_iems.main:app_factory",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        reload=reload,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations (safe to run twice)."""

    def action() -> str | None:
        with container_scope() as container:
            return migrate.upgrade(container.engine, revision)

    console.print(f"schema at revision {run(action)}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and the newest one shipped."""

    def action() -> tuple[str | None, str | None]:
        with container_scope() as container:
            return migrate.current_revision(container.engine), migrate.head_revision()

    current, head = run(action)
    console.print(f"database: {current or 'empty'}  shipped head: {head}")


@app.command()
def preflight(
    scope: Annotated[
        str, typer.Option(help="'stack' (make up: every published port) or 'local' (make run).")
    ] = "stack",
) -> None:
    """Check ports, data directories and running stacks before starting."""
    from luna_iems.ops.preflight import run_preflight

    if scope not in {"stack", "local"}:
        raise fail(f"--scope must be 'stack' or 'local', not {scope!r}")
    settings = run(load_settings)
    report = run_preflight(settings=settings, scope="stack" if scope == "stack" else "local")
    for check in report.checks:
        mark = "[green]ok[/]  " if check.ok else "[bold red]FAIL[/]"
        console.print(f"{mark} {check.name}: {check.message}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key, e.g. 'grafana'.")],
    role: Annotated[Role, typer.Option(help="viewer, analyst or admin.")] = Role.VIEWER,
) -> None:
    """Create an API key and print its token once."""

    def action() -> str:
        with container_scope(migrate_first=True) as container, container.session_factory() as session:
            return admin_service.create_key(session=session, key_in=ApiKeyCreate(name=name, role=role)).token

    token = run(action)
    console.print(f"created {role.value} key '{name}'. Token (shown once):")
    print(token)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (never their secrets)."""

    def action() -> list[ApiKeyRead]:
        with container_scope(migrate_first=True) as container, container.session_factory() as session:
            return admin_service.list_keys(session=session)

    table = Table("key_id", "name", "role", "prefix", "created_at", "last_used_at", "revoked_at")
    for key in run(action):
        table.add_row(
            str(key.key_id),
            key.name,
            key.role.value,
            key.prefix,
            key.created_at.isoformat(),
            key.last_used_at.isoformat() if key.last_used_at else "-",
            key.revoked_at.isoformat() if key.revoked_at else "-",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key_id shown by `luna keys list`.")]) -> None:
    """Revoke an API key."""

    def action() -> None:
        try:
            parsed = uuid.UUID(key_id)
        except ValueError:
            raise CliError(f"{key_id!r} is not a key_id (a UUID); see `luna keys list`") from None
        with container_scope(migrate_first=True) as container, container.session_factory() as session:
            admin_service.revoke_key(session=session, key_id=parsed)

    run(action)
    console.print(f"revoked {key_id}")


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Backends, schema revision, hypertables and row counts (like GET /status/summary)."""
    from luna_iems.ops import service as ops_service

    def action() -> StatusSummary:
        with container_scope() as container:
            return ops_service.status_summary(container.ops_deps)

    summary = run(action)
    if as_json:
        print(json.dumps(summary.model_dump(mode="json"), indent=2))
        return
    table = Table("backend", "kind", "ok", "detail")
    for b in summary.backends:
        table.add_row(b.name, b.kind, "yes" if b.ok else "NO", b.detail)
    console.print(table)
    db = summary.database
    console.print(
        f"schema {db.schema_revision or 'empty'} (shipped {db.schema_head}); "
        f"time series stored as {db.time_series_storage}"
    )
    rows = Table("table", "rows")
    for name, count in db.row_counts.items():
        rows.add_row(name, str(count))
    console.print(rows)
    decisions = summary.decisions
    alerts = ", ".join(f"{count} {severity}" for severity, count in decisions.open_alerts.items())
    console.print(f"rules: {decisions.rules} ({decisions.rules_enabled} enabled); open alerts: {alerts}")


@sim_app.command("backfill")
def sim_backfill(
    days: Annotated[int, typer.Option(min=1, max=1098, help="Days back from now.")] = 7,
    meters: Annotated[
        int | None, typer.Option(min=1, max=1000, help="How many meters (default: sim.yml's).")
    ] = None,
    prices: Annotated[bool, typer.Option(help="Also simulate day-ahead prices.")] = True,
) -> None:
    """Backfill simulated readings (and prices) for the last DAYS days, with a progress bar."""
    from datetime import UTC, datetime, timedelta

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from luna_iems.simulation import service as sim_service

    end = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)

    def action() -> tuple[int, float]:
        with container_scope(migrate_first=True) as container:
            config = sim_service.load_config(container.timeseries_deps)
            chosen = sim_service.select_meters(config, meter_ids=None, count=meters)
            total = len(chosen) * days * 24 * 60 // config.step_minutes
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=console) as bar:
                task = bar.add_task(f"{len(chosen)} meters x {days} days", total=total)
                result = sim_service.backfill_meters(
                    deps=container.timeseries_deps,
                    ts_from=start,
                    ts_to=end,
                    meters=chosen,
                    progress=lambda n: bar.advance(task, n),
                )
            if prices:
                sim_service.backfill_prices(
                    deps=container.timeseries_deps, ts_from=start, ts_to=end + timedelta(days=1)
                )
            return result.rows_written, result.rows_per_s

    rows, rate = run(action)
    console.print(f"wrote {rows} readings ({rate:,.0f} rows/s)" + (" and day-ahead prices" if prices else ""))


@forecast_app.command("backtest")
def forecast_backtest(
    *,
    target: Annotated[str, typer.Option(help="load, pv or price.")] = "load",
    meter_id: Annotated[str | None, typer.Option(help="The meter (load, pv).")] = None,
    site: Annotated[str | None, typer.Option(help="Or every meter of a site (load, pv).")] = None,
    horizon_h: Annotated[int, typer.Option(min=1, max=72, help="Forecast horizon in hours.")] = 24,
    origins: Annotated[int, typer.Option(min=1, max=60, help="Rolling origins, one day apart.")] = 7,
    resolution: Annotated[str, typer.Option(help="15m or 1h.")] = "15m",
) -> None:
    """MAE, RMSE and MASE of each model over rolling origins ending now (seasonal naive: MASE 1)."""
    from luna_iems.decisions import forecast_service
    from luna_iems.decisions.schemas import BacktestRead, BacktestRequest

    try:
        request = BacktestRequest.model_validate(
            {"target": target, "meter_id": meter_id, "site": site, "horizon_h": horizon_h}
            | {"origins": origins, "resolution": resolution}
        )
    except ValidationError as exc:
        raise fail(exc.errors()[0]["msg"]) from None

    def action() -> BacktestRead:
        with container_scope() as container, container.session_factory() as session:
            settings = container.settings
            return forecast_service.run_backtest(session=session, settings=settings, request=request)

    result = run(action)
    table = Table(title=f"{target} backtest, {origins} origins, {horizon_h} h ahead ({result.unit})")
    for column in ("model", "MAE", "RMSE", "MASE", "coverage"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in result.rows:
        coverage = "" if row.coverage is None else f"{row.coverage:.0%}"
        table.add_row(row.model, f"{row.mae:.3f}", f"{row.rmse:.3f}", f"{row.mase:.3f}", coverage)
    console.print(table)


@app.command()
def seed(days: Annotated[int, typer.Option(min=1, max=366, help="Days of demo data.")] = 28) -> None:
    """Load demo data: four simulated weeks of meters and day-ahead prices, example rules, documents."""
    from luna_iems.decisions import rule_service
    from luna_iems.knowledge import seed as knowledge_seed
    from luna_iems.simulation import service as sim_service

    def action() -> list[str]:
        with container_scope(migrate_first=True) as container:
            done = [sim_service.seed_demo(container.timeseries_deps, days=days, force=True)]
            with container.session_factory() as session:
                done.append(rule_service.seed_example_rules(session=session, site="sim"))
            done.append(knowledge_seed.seed_documents(container.knowledge_deps, force=True))
            return [line for line in done if line]

    for line in run(action):
        console.print(line)


def _reconcile(*, fix: bool) -> None:
    from luna_iems.knowledge import reconcile as knowledge_reconcile

    def action() -> knowledge_reconcile.ReconcileReport:
        with container_scope(migrate_first=True) as container:
            return knowledge_reconcile.reconcile(container.knowledge_deps, fix=fix)

    report = run(action)
    console.print(report.summary())
    if not fix and not report.clean:
        raise fail("the stores disagree with the database: run `luna reindex --check --fix` to repair")


@app.command()
def reindex(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Instead of embedding: find vector points and stored files that no committed chunk or "
            "version owns (left by a crashed ingest) and lexical-index drift; exit 1 if there are any.",
        ),
    ] = False,
    fix: Annotated[
        bool, typer.Option("--fix", help="With --check: remove the orphans and repair the lexical index.")
    ] = False,
) -> None:
    """Embed every stored chunk again into the current collection (after changing the embedding model)."""
    if check or fix:
        _reconcile(fix=fix)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from luna_iems.knowledge import repository as knowledge_repository
    from luna_iems.knowledge import service as knowledge_service

    def action() -> str:
        with container_scope(migrate_first=True) as container:
            with container.session_factory() as session:
                total = knowledge_repository.chunk_count(session=session)
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=console) as bar:
                task = bar.add_task(f"embedding into {container.vector_store.collection}", total=total)
                result = knowledge_service.reindex_vectors(
                    deps=container.knowledge_deps, progress=lambda n: bar.advance(task, n)
                )
            return (
                f"reindexed {result.chunks} chunks of {result.documents} documents in {result.seconds:.1f} s"
            )

    console.print(run(action))


# --- backups -----------------------------------------------------------------------------------
backup_app = typer.Typer(
    help="Backups: `luna backup` makes one; `list` and `verify` inspect them.", invoke_without_command=True
)
app.add_typer(backup_app, name="backup")


@backup_app.callback()
def backup(
    ctx: typer.Context,
    prune: Annotated[bool, typer.Option(help="Then delete all but the newest BACKUP_KEEP backups.")] = False,
) -> None:
    """Back up the database, the vector index and the stored files into BACKUP_DIR (online)."""
    if ctx.invoked_subcommand is not None:
        return

    def action() -> tuple[BackupRead, list[str]]:
        with container_scope() as container:
            settings = container.settings
            created = backup_service.create_backup(
                targets=container.backup_targets(),
                backup_dir=settings.resolved_backup_dir,
                pg_bin_dir=settings.pg_bin_dir,
            )
            deleted = (
                backup_service.prune_backups(
                    backup_dir=settings.resolved_backup_dir, keep=settings.backup_keep
                )
                if prune
                else []
            )
            return created, deleted

    created, deleted = run(action)
    rows = sum(created.row_counts.values())
    console.print(
        f"backup {created.name}: {created.database_kind} ({rows} rows), {created.vectors} vectors, "
        f"{created.files} files, {created.size_bytes / 1e6:.1f} MB in {created.seconds:.1f} s",
        highlight=False,
    )
    print(created.path)
    if deleted:
        console.print(f"deleted {len(deleted)} older backups: {', '.join(deleted)}", highlight=False)


@backup_app.command("list")
def backup_list() -> None:
    """The backups in BACKUP_DIR, newest first."""
    settings = run(load_settings)
    backups = run(lambda: backup_service.list_backups(backup_dir=settings.resolved_backup_dir))
    table = Table("name", "created_at", "database", "revision", "rows", "vectors", "files", "MB")
    for b in backups:
        table.add_row(
            b.name,
            b.created_at.isoformat(),
            b.database_kind,
            b.alembic_revision or "-",
            str(sum(b.row_counts.values())),
            str(b.vectors),
            str(b.files),
            f"{b.size_bytes / 1e6:.1f}",
        )
    console.print(table)


@backup_app.command("verify")
def backup_verify(
    backup_name: Annotated[
        str, typer.Argument(metavar="BACKUP", help="A name from `luna backup list`, or a path.")
    ],
) -> None:
    """Check a backup's manifest and the SHA-256 of every file in it."""
    settings = run(load_settings)

    def action() -> BackupVerified:
        root = backup_service.locate(backup_dir=settings.resolved_backup_dir, name_or_path=backup_name)
        return backup_service.verify_backup(root=root)

    result = run(action)
    if not result.ok:
        raise fail(result.problem or "verification failed")
    console.print(
        f"backup {result.name}: {result.files_checked} files match their checksums", highlight=False
    )


@app.command()
def restore(
    backup_name: Annotated[
        str, typer.Argument(metavar="BACKUP", help="A name from `luna backup list`, or a path.")
    ],
    force: Annotated[
        bool, typer.Option(help="Replace what the target database, vector store and files hold.")
    ] = False,
) -> None:
    """Restore a backup into the configured database, vector store and files. Stop the service first.

    Refuses (changing nothing) when a checksum does not match, the backup is from a newer schema, or
    the target is not empty (unless --force).
    """

    def action() -> BackupRestored:
        with container_scope() as container:
            settings = container.settings
            root = backup_service.locate(backup_dir=settings.resolved_backup_dir, name_or_path=backup_name)
            return backup_service.restore_backup(
                targets=container.backup_targets(), root=root, pg_bin_dir=settings.pg_bin_dir, force=force
            )

    result = run(action)
    rows = sum(result.row_counts.values())
    console.print(
        f"restored {result.name}: {result.database_kind} ({rows} rows), {result.vectors} vectors, "
        f"{result.files} files in {result.seconds:.1f} s; schema at revision {result.schema_revision}",
        highlight=False,
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)

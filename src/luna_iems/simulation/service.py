"""Simulated meters and prices written through the same ingest path as real data.

Backfill fills a time range; live mode (a scheduler job every 1-5 s) writes, for every simulated
meter, a reading stamped with the current tick carrying the quarter-hour's simulated mean power, and
keeps day-ahead prices published up to the end of the next day (as the market does after noon).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from luna_iems.db.base import from_epoch_us
from luna_iems.errors import InvalidInputError, NotFoundError
from luna_iems.simulation import battery as sim_battery
from luna_iems.simulation.config import MeterSpec, SimConfig, load_sim_config
from luna_iems.simulation.meters import SimulatedReadings, simulate_meter
from luna_iems.simulation.prices import simulate_prices
from luna_iems.simulation.schemas import BackfillResult, SimStatus
from luna_iems.timeseries import repository as timeseries_repository
from luna_iems.timeseries import rollup_service
from luna_iems.timeseries import service as timeseries_service
from luna_iems.timeseries.deps import TimeseriesDeps
from luna_iems.timeseries.ingest import retention_cutoff
from luna_iems.timeseries.models import Meter
from luna_iems.timeseries.schemas import PriceIn

SIM_SITE = "sim"  # the site of every simulated meter
DEMO_BATTERY_ID = "sim-battery-001"

CHUNK = timedelta(days=92)  # one transaction per meter-quarter: bounded memory, visible progress
MAX_BACKFILL_DAYS = 366 * 3
Progress = Callable[[int], None]


def load_config(deps: TimeseriesDeps) -> SimConfig:
    path: Path = deps.settings.sim_config_path
    return load_sim_config(path if path.is_file() else None)


def _window(ts_from: datetime, ts_to: datetime) -> None:
    timeseries_service.check_range(ts_from, ts_to)
    if ts_to - ts_from > timedelta(days=MAX_BACKFILL_DAYS):
        raise InvalidInputError(
            f"a backfill covers at most {MAX_BACKFILL_DAYS} days; split the range", details={"field": "to"}
        )


def select_meters(config: SimConfig, *, meter_ids: list[str] | None, count: int | None) -> list[MeterSpec]:
    """The configured meters, a subset by id, or `count` meters cycling through the configured ones."""
    if meter_ids:
        known = {m.meter_id: m for m in config.meters}
        unknown = [m for m in meter_ids if m not in known]
        if unknown:
            raise NotFoundError(
                f"not simulated meter(s): {', '.join(unknown)}; configured: {', '.join(known)}",
                details={"unknown_meters": unknown},
            )
        return [known[m] for m in meter_ids]
    if count is None or count <= len(config.meters):
        return config.meters[:count] if count else list(config.meters)
    extra = [
        MeterSpec(meter_id=f"{spec.meter_id}-{n:03d}", profile=spec.profile, scale=spec.scale)
        for n in range(2, count)
        for spec in config.meters
    ]
    return [*config.meters, *extra][:count]


def simulate(
    spec: MeterSpec,
    config: SimConfig,
    *,
    start: datetime,
    end: datetime,
    scale: float = 1.0,
    noise: float | None = None,
) -> SimulatedReadings:
    """The configured meter `spec` over [start, end) with the config's seed, site and step."""
    return simulate_meter(
        meter_id=spec.meter_id,
        profile=config.profile(spec.profile),
        start=start,
        end=end,
        step_minutes=config.step_minutes,
        seed=config.seed,
        timezone=config.timezone,
        lat=config.site.lat,
        lon=config.site.lon,
        scale=spec.scale * scale,
        noise=noise,
    )


def backfill_meters(
    *,
    deps: TimeseriesDeps,
    ts_from: datetime,
    ts_to: datetime,
    meters: list[MeterSpec],
    scale: float = 1.0,
    noise: float | None = None,
    progress: Progress | None = None,
) -> BackfillResult:
    """Simulate `meters` over [ts_from, ts_to) and write them (meters are created with their site data)."""
    _window(ts_from, ts_to)
    config = load_config(deps)
    started = datetime.now(tz=UTC)
    rows = 0
    for spec in meters:
        _ensure_meter(deps, spec, config)
        cursor = ts_from
        while cursor < ts_to:
            end = min(cursor + CHUNK, ts_to)
            readings = simulate(spec, config, start=cursor, end=end, scale=scale, noise=noise)
            if len(readings):
                with deps.session_factory() as session:
                    result = timeseries_service.write_readings(
                        session=session,
                        meter_ids=np.full(len(readings), spec.meter_id),
                        ts_us=readings.ts.astype("datetime64[us]").astype(np.int64),
                        consumption_kw=readings.consumption_kw,
                        production_kw=readings.production_kw,
                        voltage=readings.voltage,
                        quality=readings.quality,
                        source="simulation",
                        retention_cutoff=retention_cutoff(deps.settings),
                    )
                rows += result.rows_written
                if progress:
                    progress(result.rows_written)
            cursor = end
    # Roll the new data up now, so the first query after a backfill does not pay for it.
    with deps.session_factory() as session:
        rollup_service.refresh_rollups(session=session, meter_ids=[m.meter_id for m in meters])
    return _result(started, rows, [m.meter_id for m in meters], ts_from, ts_to)


def _ensure_meter(deps: TimeseriesDeps, spec: MeterSpec, config: SimConfig) -> None:
    profile = config.profile(spec.profile)
    with deps.session_factory() as session:
        if session.get(Meter, spec.meter_id) is None:
            kind = "bidirectional" if profile.pv is not None else "consumption"
            session.add(
                Meter(
                    meter_id=spec.meter_id,
                    site=SIM_SITE,
                    kind=kind,
                    lat=config.site.lat,
                    lon=config.site.lon,
                    timezone=config.timezone,
                    obis_map={},
                )
            )
            session.commit()


def backfill_prices(
    *, deps: TimeseriesDeps, ts_from: datetime, ts_to: datetime, step_minutes: int | None = None
) -> BackfillResult:
    """Simulate day-ahead prices over [ts_from, ts_to) at 15 or 60 minutes and write them."""
    _window(ts_from, ts_to)
    config = load_config(deps)
    started = datetime.now(tz=UTC)
    prices = simulate_prices(
        spec=config.prices,
        start=ts_from,
        end=ts_to,
        step_minutes=step_minutes or config.prices.step_minutes,
        seed=config.seed,
        timezone=config.timezone,
        lat=config.site.lat,
        lon=config.site.lon,
    )
    ts_us = prices.ts.astype("datetime64[us]").astype(np.int64)
    from luna_iems.db.base import from_epoch_us

    rows = [
        PriceIn(
            market=prices.market, product=prices.product, ts=from_epoch_us(int(t)), price_eur_mwh=float(p)
        )
        for t, p in zip(ts_us, prices.price_eur_mwh, strict=True)
    ]
    written = 0
    if rows:
        with deps.session_factory() as session:
            written = timeseries_service.ingest_prices(
                session=session, rows=rows, source="simulation"
            ).rows_written
    return _result(started, written, [f"{prices.market}/{prices.product}"], ts_from, ts_to)


def _result(
    started: datetime, rows: int, series: list[str], ts_from: datetime, ts_to: datetime
) -> BackfillResult:
    seconds = max((datetime.now(tz=UTC) - started).total_seconds(), 1e-9)
    return BackfillResult(
        rows_written=rows,
        series=series,
        ts_from=ts_from,
        ts_to=ts_to,
        seconds=round(seconds, 3),
        rows_per_s=round(rows / seconds, 1),
    )


DEMO_DAYS = 28  # four weeks: enough history for the learned forecasts and a backtest


def seed_demo(deps: TimeseriesDeps, *, days: int = DEMO_DAYS, force: bool = False) -> str | None:
    """Demo data for a fresh instance: `days` of the configured meters and prices up to tomorrow.

    Without `force`, does nothing (returns None) once any meter or ingest batch exists, so the
    operator's data is never mixed with demo data. Returns a one-line summary otherwise.
    """
    from sqlalchemy import func, select

    from luna_iems.timeseries.models import IngestBatch

    with deps.session_factory() as session:
        meters = int(session.scalar(select(func.count()).select_from(Meter)) or 0)
        batches = int(session.scalar(select(func.count()).select_from(IngestBatch)) or 0)
    if (meters or batches) and not force:
        return None
    config = load_config(deps)
    end = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    result = backfill_meters(deps=deps, ts_from=start, ts_to=end, meters=list(config.meters))
    midnight = end.replace(hour=0) + timedelta(days=2)
    backfill_prices(deps=deps, ts_from=start, ts_to=midnight)
    battery = seed_demo_battery(deps, config=config, ts_from=start, ts_to=end)
    return (
        f"demo data: {len(config.meters)} simulated meters (site 'sim'), {days} days of 15-minute readings "
        f"({result.rows_written} rows) and day-ahead prices for DE-LU"
    ) + (f", a simulated home battery ({battery})" if battery else "")


def seed_demo_battery(
    deps: TimeseriesDeps, *, config: SimConfig, ts_from: datetime, ts_to: datetime
) -> str | None:
    """States of a 10 kWh battery behind the first simulated meter with PV (self-consumption control),
    so the demo's state-of-charge rules have data. Returns its id, or None without a PV meter."""
    spec = next((m for m in config.meters if config.profile(m.profile).pv is not None), None)
    if spec is None:
        return None
    readings = simulate(spec, config, start=ts_from, end=ts_to)
    soc, power = sim_battery.self_consumption(
        consumption_kw=readings.consumption_kw,
        production_kw=readings.production_kw,
        step_minutes=config.step_minutes,
    )
    step = timedelta(minutes=config.step_minutes)
    rows = [
        (DEMO_BATTERY_ID, from_epoch_us(int(t)) + step, SIM_SITE, round(float(s), 3), round(float(p), 4))
        for t, s, p in zip(readings.ts.astype("datetime64[us]").astype(np.int64), soc, power, strict=True)
    ]  # a state is reported at the end of its step
    with deps.session_factory() as session:
        timeseries_repository.upsert_battery_states(session=session, rows=rows)
        session.commit()
    return DEMO_BATTERY_ID


# --- live mode ------------------------------------------------------------------------------
@dataclass
class LiveState:
    interval_s: float = 5.0
    started_at: datetime | None = None
    last_write: datetime | None = None
    ticks: int = 0
    rows_written: int = 0
    last_error: str | None = None
    prices_until: datetime | None = None
    # Read once per start (POST /sim/start resets it), not on every tick.
    config: SimConfig | None = None
    meters_ready: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


LIVE_JOB_ID = "simulation.live"


def live_tick(deps: TimeseriesDeps, state: LiveState, *, now: datetime | None = None) -> int:
    """Write one live reading per simulated meter (and prices up to tomorrow's end); returns rows.

    All meters of a tick are one batch; the configuration is read and the meters are created once
    per start, not per tick."""
    now = now or datetime.now(tz=UTC)
    if state.config is None:
        state.config = load_config(deps)
    config = state.config
    if not state.meters_ready:
        for spec in config.meters:
            _ensure_meter(deps, spec, config)
        state.meters_ready = True
    quarter = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    tick_us = int(now.timestamp() // state.interval_s * state.interval_s * 1_000_000)
    samples = [
        simulate_meter(
            meter_id=spec.meter_id,
            profile=config.profile(spec.profile),
            start=quarter,
            end=quarter + timedelta(minutes=15),
            step_minutes=15,
            seed=config.seed,
            timezone=config.timezone,
            lat=config.site.lat,
            lon=config.site.lon,
            scale=spec.scale,
        )
        for spec in config.meters
    ]
    with deps.session_factory() as session:
        result = timeseries_service.write_readings(
            session=session,
            meter_ids=np.array([spec.meter_id for spec in config.meters]),
            ts_us=np.full(len(samples), tick_us, dtype=np.int64),
            consumption_kw=np.concatenate([s.consumption_kw for s in samples]),
            production_kw=np.concatenate([s.production_kw for s in samples]),
            voltage=np.concatenate([s.voltage for s in samples]),
            quality=np.concatenate([s.quality for s in samples]),
            source="simulation",
            create_meters=False,
        )
    _publish_prices(deps, state, now, config.timezone)
    with state.lock:
        state.ticks += 1
        state.rows_written += result.rows_written
        state.last_write = now
    return result.rows_written


def _publish_prices(deps: TimeseriesDeps, state: LiveState, now: datetime, timezone: str) -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(timezone)
    local_midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    until = (local_midnight + timedelta(days=2)).astimezone(UTC)
    if state.prices_until is not None and state.prices_until >= until:
        return
    start = state.prices_until or local_midnight.astimezone(UTC)
    backfill_prices(deps=deps, ts_from=start, ts_to=until)
    state.prices_until = until


def status(state: LiveState, *, running: bool) -> SimStatus:
    with state.lock:
        return SimStatus(
            running=running,
            interval_s=state.interval_s,
            started_at=state.started_at,
            last_write=state.last_write,
            ticks=state.ticks,
            rows_written=state.rows_written,
            prices_until=state.prices_until,
            last_error=state.last_error,
        )

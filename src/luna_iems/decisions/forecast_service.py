"""Forecasts and backtests from stored history (the models live in `forecasting`, pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from luna_iems.decisions import backtest as backtest_module
from luna_iems.decisions import forecasting
from luna_iems.decisions import history as history_module
from luna_iems.decisions.schemas import (
    BacktestRead,
    BacktestRequest,
    BacktestRow,
    ForecastPoint,
    ForecastRead,
    ForecastRequest,
    Resolution,
    Target,
    resolution_minutes,
)
from luna_iems.errors import InvalidInputError
from luna_iems.settings import Settings

UNITS = {"load": "kW", "pv": "kW", "price": "EUR/MWh"}


@dataclass(frozen=True)
class History:
    """A stored series ready for `forecasting`, with the site calendar and location it belongs to."""

    series: forecasting.Series
    scope: dict[str, object]
    timezone: str
    lat: float | None
    lon: float | None


def load_history(
    *,
    session: Session,
    settings: Settings,
    target: Target,
    meter_id: str | None,
    site: str | None,
    market: str | None,
    product: str | None,
    ts_to: datetime,
    days: int,
    step_minutes: int,
) -> History:
    """`days` of stored history of `target` ending at `ts_to` (exclusive), NaN where nothing is stored.

    load = consumption, pv = production of the meter or the site's meters; price = stored spot prices.
    """
    ts_from = ts_to - timedelta(days=days)
    if target == "price":
        market, product = market or settings.default_market, product or settings.default_product
        values = history_module.load_prices(
            session=session,
            market=market,
            product=product,
            ts_from=ts_from,
            ts_to=ts_to,
            step_minutes=step_minutes,
        )
        series = _trimmed(forecasting.Series(start=ts_from, step_minutes=step_minutes, values=values))
        return History(series, {"market": market, "product": product}, settings.timezone, None, None)
    load, pv = energy_histories(
        session=session, meter_id=meter_id, site=site, ts_to=ts_to, days=days, step_minutes=step_minutes
    )
    return load if target == "load" else pv


def energy_histories(
    *,
    session: Session,
    meter_id: str | None,
    site: str | None,
    ts_to: datetime,
    days: int,
    step_minutes: int,
) -> tuple[History, History]:
    """(load, pv) histories of a meter or site from one read of the stored energy."""
    ts_from = ts_to - timedelta(days=days)
    scope = history_module.resolve_scope(session=session, meter_id=meter_id, site=site)
    energy = history_module.load_energy(
        session=session, scope=scope, ts_from=ts_from, ts_to=ts_to, step_minutes=step_minutes
    )

    def history(values: history_module.FloatArray) -> History:
        series = _trimmed(forecasting.Series(start=ts_from, step_minutes=step_minutes, values=values))
        return History(series, scope.description, scope.timezone, scope.lat, scope.lon)

    return history(energy.consumption_kw), history(energy.production_kw)


def _trimmed(series: forecasting.Series) -> forecasting.Series:
    """The series from its first stored value on: before a meter existed there is no history, not a gap."""
    finite = np.flatnonzero(np.isfinite(series.values))
    if finite.size == 0 or finite[0] == 0:
        return series
    start = series.start + timedelta(minutes=series.step_minutes * int(finite[0]))
    return forecasting.Series(
        start=start, step_minutes=series.step_minutes, values=series.values[finite[0] :]
    )


def origin(at: datetime | None, step_minutes: int) -> datetime:
    return history_module.floor_to_step(at or datetime.now(UTC), step_minutes)


def _requested_history(
    session: Session, settings: Settings, request: ForecastRequest | BacktestRequest, *, days: int
) -> History:
    """`days` of history before the request's origin (`at` or now); 422 when none is stored."""
    step = resolution_minutes(request.resolution)
    history = load_history(
        session=session,
        settings=settings,
        target=request.target,
        meter_id=request.meter_id,
        site=request.site,
        market=request.market,
        product=request.product,
        ts_to=origin(request.at, step),
        days=days,
        step_minutes=step,
    )
    if not np.isfinite(history.series.values).any():
        raise InvalidInputError(
            f"no stored {request.target} data in the {days} days before {history.series.end.isoformat()}: "
            "ingest readings (or prices) first",
            details={"field": "target", "scope": history.scope},
        )
    return history


def run_forecast(*, session: Session, settings: Settings, request: ForecastRequest) -> ForecastRead:
    """Forecast `horizon_h` after the origin (`at` or now) from FORECAST_HISTORY_DAYS of history.

    Raises InvalidInputError (422) when there is no data or too little for the model (the message names
    the minimum), NotFoundError for an unknown meter or site.
    """
    step = resolution_minutes(request.resolution)
    history = _requested_history(session, settings, request, days=settings.forecast_history_days)
    try:
        result = forecasting.forecast(
            history.series,
            target=request.target,
            horizon_steps=request.horizon_h * 60 // step,
            model=request.model,
            interval=request.interval,
            timezone=history.timezone,
            lat=history.lat,
            lon=history.lon,
        )
    except ValueError as exc:
        raise InvalidInputError(str(exc), details={"field": "model", "scope": history.scope}) from exc
    return _forecast_read(request.target, request.resolution, history, result)


def _forecast_read(
    target: Target, resolution: Resolution, history: History, result: forecasting.Forecast
) -> ForecastRead:
    points = [
        ForecastPoint(ts=ts, value=round(float(v), 4), lower=round(float(lo), 4), upper=round(float(hi), 4))
        for ts, v, lo, hi in zip(result.timestamps(), result.values, result.lower, result.upper, strict=True)
    ]
    return ForecastRead(
        scope=dict(history.scope),
        target=target,
        unit=UNITS[target],
        resolution=resolution,
        model=result.model,
        interval=result.interval,
        history_from=history.series.start,
        history_to=history.series.end,
        history_points=int(np.isfinite(history.series.values).sum()),
        points=points,
    )


def run_backtest(*, session: Session, settings: Settings, request: BacktestRequest) -> BacktestRead:
    """MAE, RMSE and MASE (against seasonal naive) over `origins` rolling origins one day apart.

    The history is FORECAST_HISTORY_DAYS plus the backtested days, so the last origin learns from as
    much history as a live forecast would. Raises InvalidInputError when the history is too short.
    """
    step = resolution_minutes(request.resolution)
    days = settings.forecast_history_days + request.origins + request.horizon_h // 24 + 1
    history = _requested_history(session, settings, request, days=days)
    try:
        rows = backtest_module.backtest(
            history.series,
            target=request.target,
            horizon_steps=request.horizon_h * 60 // step,
            models=list(request.models),
            origins=request.origins,
            timezone=history.timezone,
            lat=history.lat,
            lon=history.lon,
        )
    except ValueError as exc:
        raise InvalidInputError(str(exc), details={"field": "origins", "scope": history.scope}) from exc
    return BacktestRead(
        scope=dict(history.scope),
        target=request.target,
        unit=UNITS[request.target],
        resolution=request.resolution,
        horizon_h=request.horizon_h,
        history_from=history.series.start,
        history_to=history.series.end,
        rows=[
            BacktestRow(
                model=r.model,
                mae=round(r.mae, 4),
                rmse=round(r.rmse, 4),
                mase=round(r.mase, 4),
                coverage=None if np.isnan(r.coverage) else round(r.coverage, 4),
                origins=r.origins,
            )
            for r in rows
        ],
    )

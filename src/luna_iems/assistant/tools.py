"""Luna's tools: the product's own services, callable by an LLM (OpenAI function calling), by the intent
parser and by MCP clients.

Each tool has a name, a description, a JSON schema of its arguments (a pydantic model: the same
bounds validate what a model sends), the role it needs and a function that calls the EXISTING
service (KPIs: `timeseries.kpis`; prices: `timeseries.service`; forecasts, optimiser, what-if,
alerts and rules: `decisions/`). The roles are the HTTP routes' for the same service: reading,
forecasting and planning without activation are viewer; a what-if stores a scenario (POST
/scenarios/whatif), so it needs analyst. A tool returns a small structured result and a data
citation: what was read ("KPIs site sim, 2026-11-01…2026-11-30") and the dashboard page showing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from luna_iems.admin.schemas import Role
from luna_iems.assistant.intents import Period, days
from luna_iems.decisions import (
    alert_service,
    forecast_service,
    optimize_service,
    rule_service,
    scenario_service,
)
from luna_iems.decisions.schemas import (
    AlertQuery,
    BatteryIn,
    ForecastRequest,
    OptimizeRequest,
    StoredInputs,
    Variation,
    WhatIfRequest,
)
from luna_iems.errors import InvalidInputError
from luna_iems.settings import Settings
from luna_iems.tariffs import service as tariff_service
from luna_iems.timeseries import kpis as kpi_service
from luna_iems.timeseries import service as timeseries_service
from luna_iems.timeseries.schemas import Kpis

EVENING_HOURS = range(17, 21)  # the evening peak, site-local 17:00-21:00


@dataclass(frozen=True)
class DataCitation:
    """Where numbers came from: `source` names the data and period, `link` the dashboard page."""

    source: str
    link: str | None


@dataclass(frozen=True)
class ToolResult:
    tool: str
    data: dict[str, Any]
    citation: DataCitation


@dataclass(frozen=True)
class ToolContext:
    session: Session
    settings: Settings
    now: datetime
    role: Role
    sites: tuple[str, ...]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _SiteArgs(_Args):
    site: str | None = Field(default=None, max_length=100, description="Site id (default: the only site)")


class PeriodArgs(_SiteArgs):
    from_date: date = Field(description="First local day (YYYY-MM-DD)")
    to_date: date = Field(description="Last local day, inclusive (YYYY-MM-DD)")


class PriceArgs(_Args):
    from_date: date = Field(description="First local day (YYYY-MM-DD)")
    to_date: date = Field(description="Last local day, inclusive (YYYY-MM-DD)")
    count: int = Field(default=3, ge=1, le=24, description="How many hours")
    order: Literal["cheapest", "most_expensive"] = "cheapest"


class ForecastArgs(_SiteArgs):
    target: Literal["load", "pv", "price"] = "load"
    horizon_h: int = Field(default=24, ge=1, le=72)


class PlanArgs(_SiteArgs):
    day: date = Field(description="The local day to plan (YYYY-MM-DD), e.g. tomorrow")
    capacity_kwh: float = Field(default=10.0, gt=0, le=10_000, description="Battery capacity")
    power_kw: float = Field(default=5.0, gt=0, le=10_000, description="Battery charge/discharge power")


class WhatIfArgs(PeriodArgs):
    battery_capacity_kwh: float | None = Field(default=None, gt=0, le=10_000)
    battery_power_kw: float | None = Field(default=None, gt=0, le=10_000)
    pv_scale: float | None = Field(default=None, ge=0, le=10)


class AlertArgs(_Args):
    limit: int = Field(default=10, ge=1, le=50)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[_Args]
    role: Role
    run: Callable[[ToolContext, Any], ToolResult]

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-calling description of this tool."""
        params = self.args.model_json_schema()
        params.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }


# --- helpers --------------------------------------------------------------------------------------
def _site(ctx: ToolContext, site: str | None) -> str:
    if site:
        return site
    if len(ctx.sites) == 1:
        return ctx.sites[0]
    raise InvalidInputError(
        f"site: which site? this instance has {len(ctx.sites)}: {', '.join(ctx.sites) or 'none'}",
        details={"field": "site", "sites": list(ctx.sites)},
    )


def _period(ctx: ToolContext, first: date, last: date) -> Period:
    if last < first:
        raise InvalidInputError("to_date: before from_date", details={"field": "to_date"})
    return days(first, last + timedelta(days=1), ZoneInfo(ctx.settings.timezone))


def _link(page: str, **params: str) -> str:
    """A web app page with its query; days go with `tz`, the zone they are calendar days of."""
    return f"{page}?{urlencode(params)}" if params else page


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def site_kpis(ctx: ToolContext, *, site: str, period: Period) -> Kpis:
    """The KPIs service, exactly as GET /kpis computes them for a site."""
    settings = ctx.settings
    return kpi_service.compute_kpis(
        session=ctx.session,
        meter_id=None,
        site=site,
        ts_from=period.ts_from,
        ts_to=period.ts_to,
        market=settings.default_market,
        product=settings.default_product,
        timezone=settings.timezone,
        default_tariff=tariff_service.supply_tariff(settings),
    )


def _kpi_data(k: Kpis) -> dict[str, Any]:
    return {
        "consumption_kwh": round(k.consumption_kwh, 1),
        "production_kwh": round(k.production_kwh, 1),
        "import_kwh": round(k.import_kwh, 1),
        "export_kwh": round(k.export_kwh, 1),
        "autarky_pct": _pct(k.autarky_rate),
        "self_consumption_pct": _pct(k.self_consumption_rate),
        "peak_load_kw": k.peak_load_kw,
        "peak_import_kw": k.peak_import_kw,
        "import_cost_eur": k.import_cost_eur,
        "net_cost_eur": k.net_cost_eur,
        "coverage_pct": _pct(k.coverage),
    }


def _kpi_citation(site: str, period: Period) -> DataCitation:
    days = {"from": period.first.isoformat(), "to": period.end.isoformat(), "tz": period.timezone}
    link = _link("/smart-meters", site=site, **days)  # the page's trend and totals for these days
    return DataCitation(source=f"KPIs site {site}, {period.label}", link=link)


# --- the tools ------------------------------------------------------------------------------------
def _run_kpis(ctx: ToolContext, args: PeriodArgs) -> ToolResult:
    site = _site(ctx, args.site)
    period = _period(ctx, args.from_date, args.to_date)
    data = {"site": site, "period": period.label, **_kpi_data(site_kpis(ctx, site=site, period=period))}
    return ToolResult("site_kpis", data, _kpi_citation(site, period))


def _evening_import_kwh(ctx: ToolContext, site: str, period: Period) -> float:
    q = kpi_service.energy_15m(
        session=ctx.session, meter_id=None, site=site, ts_from=period.ts_from, ts_to=period.ts_to
    )
    tz = ZoneInfo(ctx.settings.timezone)
    hours = [datetime.fromtimestamp(int(t) / 1e6, tz=UTC).astimezone(tz).hour for t in q.slots_us]
    return round(float(sum(kwh for h, kwh in zip(hours, q.import_kwh, strict=True) if h in EVENING_HOURS)), 1)


def _figures(ctx: ToolContext, site: str, period: Period) -> dict[str, Any]:
    k = site_kpis(ctx, site=site, period=period)
    cost = k.import_cost_eur or 0.0
    return {
        "period": period.label,
        "cost_eur": round(cost + k.peak_charge_eur, 2),
        "import_kwh": round(k.import_kwh, 1),
        "evening_import_kwh": _evening_import_kwh(ctx, site, period),
        "peak_import_kw": k.peak_import_kw,
        "peak_charge_eur": round(k.peak_charge_eur, 2),
        "mean_import_price_eur_kwh": round(cost / k.import_kwh, 4) if k.import_kwh > 0 else None,
    }


def compare_figures(now: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """Split the cost change into volume (more kWh at the old price), price (the new kWh at a new mean
    price) and peak charge; the largest is the driver. Changes in percent where the base is not 0."""

    def change(key: str) -> float | None:
        a, b = now[key], before[key]
        return None if a is None or b is None or b == 0 else round((a - b) / b * 100, 1)

    price_now, price_before = (
        now["mean_import_price_eur_kwh"] or 0.0,
        before["mean_import_price_eur_kwh"] or 0.0,
    )
    effects = {
        "import volume": (now["import_kwh"] - before["import_kwh"]) * price_before,
        "import price": (price_now - price_before) * now["import_kwh"],
        "peak charge": now["peak_charge_eur"] - before["peak_charge_eur"],
    }
    driver = max(effects, key=lambda name: abs(effects[name]))
    return {
        "cost_change_eur": round(now["cost_eur"] - before["cost_eur"], 2),
        "changes_pct": {
            k: change(k)
            for k in (
                "cost_eur",
                "import_kwh",
                "evening_import_kwh",
                "peak_import_kw",
                "mean_import_price_eur_kwh",
            )
        },
        "effects_eur": {k: round(v, 2) for k, v in effects.items()},
        "driver": driver,
    }


def _run_compare(ctx: ToolContext, args: PeriodArgs) -> ToolResult:
    site = _site(ctx, args.site)
    period = _period(ctx, args.from_date, args.to_date)
    previous = period.previous()
    now, before = _figures(ctx, site, period), _figures(ctx, site, previous)
    data = {"site": site, "period": now, "previous": before, **compare_figures(now, before)}
    citation = DataCitation(
        source=f"KPIs site {site}, {period.label} vs {previous.label}",
        link=_kpi_citation(site, period).link,
    )
    return ToolResult("compare_periods", data, citation)


def _run_prices(ctx: ToolContext, args: PriceArgs) -> ToolResult:
    period = _period(ctx, args.from_date, args.to_date)
    settings = ctx.settings
    series = timeseries_service.query_prices(
        session=ctx.session,
        market=settings.default_market,
        product=settings.default_product,
        ts_from=period.ts_from,
        ts_to=period.ts_to,
        bucket="1h",
        agg="avg",
        tz_name=settings.timezone,
    )
    priced = [p for p in series.points if p.price_eur_mwh is not None]
    if not priced:
        raise InvalidInputError(
            f"no {series.market} {series.product} prices stored for {period.label}",
            details={"field": "from_date"},
        )
    ranked = sorted(priced, key=lambda p: p.price_eur_mwh or 0.0, reverse=args.order == "most_expensive")
    tz = ZoneInfo(settings.timezone)
    hours = [
        {"start": p.ts.astimezone(tz).isoformat(), "price_ct_kwh": round((p.price_eur_mwh or 0.0) / 10, 2)}
        for p in sorted(ranked[: args.count], key=lambda p: p.ts)
    ]
    mean = sum(p.price_eur_mwh or 0.0 for p in priced) / len(priced) / 10
    data = {"period": period.label, "order": args.order, "hours": hours, "mean_ct_kwh": round(mean, 2)}
    source = f"Prices {series.market} {series.product}, {period.label}"
    link = _link("/prices", **{"from": period.first.isoformat(), "to": period.end.isoformat()})
    return ToolResult("price_hours", data, DataCitation(source, link))


def _run_forecast(ctx: ToolContext, args: ForecastArgs) -> ToolResult:
    site = None if args.target == "price" else _site(ctx, args.site)
    read = forecast_service.run_forecast(
        session=ctx.session,
        settings=ctx.settings,
        request=ForecastRequest(target=args.target, site=site, horizon_h=args.horizon_h, at=ctx.now),
    )
    step_h = 0.25 if read.resolution == "15m" else 1.0
    values = [p.value for p in read.points]
    data: dict[str, Any] = {
        "target": args.target,
        "unit": read.unit,
        "model": read.model,
        "horizon_h": args.horizon_h,
    }
    if read.unit == "kW":
        data["energy_kwh"] = round(sum(values) * step_h, 1)
        data["peak_kw"] = round(max(values), 2) if values else None
    else:
        data["mean"] = round(sum(values) / len(values), 2) if values else None
    start = read.points[0].ts.isoformat() if read.points else ctx.now.isoformat()
    scope = f"site {site}" if site else "market"
    # The price forecast belongs with the prices page; load and PV with the site's home page.
    link = _link("/prices") if site is None else _link("/", site=site)
    return ToolResult(
        "forecast", data, DataCitation(f"Forecast {args.target} {scope}, {start} +{args.horizon_h} h", link)
    )


def _run_plan(ctx: ToolContext, args: PlanArgs) -> ToolResult:
    site = _site(ctx, args.site)
    period = _period(ctx, args.day, args.day)
    request = OptimizeRequest(
        start=period.ts_from,
        horizon_h=round((period.ts_to - period.ts_from).total_seconds() / 3600),
        stored=StoredInputs(site=site),
        batteries=[
            BatteryIn(
                capacity_kwh=args.capacity_kwh, charge_max_kw=args.power_kw, discharge_max_kw=args.power_kw
            )
        ],
    )
    plan = optimize_service.optimize(session=ctx.session, settings=ctx.settings, request=request, now=ctx.now)
    tz = ZoneInfo(ctx.settings.timezone)
    windows: list[dict[str, Any]] = []
    for step in plan.steps:
        charging = sum(-b.power_kw for b in step.batteries.values() if b.power_kw < -1e-3)
        if charging <= 0:
            continue
        local = step.ts.astimezone(tz)
        if windows and windows[-1]["_end"] == step.ts:
            windows[-1]["_end"] = step.ts + timedelta(minutes=plan.step_minutes)
            windows[-1]["end"] = (local + timedelta(minutes=plan.step_minutes)).strftime("%H:%M")
            windows[-1]["energy_kwh"] += charging * plan.step_minutes / 60
        else:
            windows.append(
                {
                    "start": local.strftime("%H:%M"),
                    "end": (local + timedelta(minutes=plan.step_minutes)).strftime("%H:%M"),
                    "energy_kwh": charging * plan.step_minutes / 60,
                    "_end": step.ts + timedelta(minutes=plan.step_minutes),
                }
            )
    for w in windows:
        w.pop("_end")
        w["energy_kwh"] = round(w["energy_kwh"], 1)
    data = {
        "site": site,
        "day": period.label,
        "battery": {"capacity_kwh": args.capacity_kwh, "power_kw": args.power_kw},
        "charge_windows": windows,
        "cost_eur": round(plan.total_cost_eur, 2),
        "savings_eur": round(plan.savings_eur, 2),
    }
    link = _link("/", site=site, day=period.first.isoformat(), tz=period.timezone)  # Home's plan card
    return ToolResult(
        "optimiser_plan", data, DataCitation(f"Optimiser plan site {site}, {period.label}", link)
    )


def _run_whatif(ctx: ToolContext, args: WhatIfArgs) -> ToolResult:
    site = _site(ctx, args.site)
    period = _period(ctx, args.from_date, args.to_date)
    variation = Variation(
        name="assistant",
        battery_capacity_kwh=args.battery_capacity_kwh,
        battery_power_kw=args.battery_power_kw,
        pv_scale=args.pv_scale,
    )
    request = WhatIfRequest.model_validate(
        {
            "name": "Luna what-if",
            "site": site,
            "from": period.ts_from,
            "to": period.ts_to,
            "variations": [variation],
        }
    )
    read = scenario_service.run_whatif(session=ctx.session, settings=ctx.settings, request=request)
    data = {
        "site": site,
        "period": period.label,
        "changes": variation.model_dump(exclude_none=True),
        "deltas": read.what_if[0] if read.what_if else {},
    }
    link = _link("/playbook", scenario=str(read.scenario_id))
    return ToolResult("what_if", data, DataCitation(f"What-if site {site}, {period.label}", link))


def _run_alerts(ctx: ToolContext, args: AlertArgs) -> ToolResult:
    alerts = alert_service.list_alerts(
        session=ctx.session, query=AlertQuery(acknowledged=False, limit=args.limit)
    )
    items = [
        {
            "severity": a.severity,
            "kind": a.kind,
            "meter_id": a.meter_id,
            "start_at": a.start_at.isoformat(),
            "message": a.message,
        }
        for a in alerts.items
    ]
    return ToolResult(
        "open_alerts",
        {"open": alerts.total, "items": items},
        DataCitation("Alerts (open, unacknowledged)", "/"),
    )


def _run_rules(ctx: ToolContext, args: _Args) -> ToolResult:
    rules = rule_service.list_rules(session=ctx.session)
    items = [
        {
            "name": r.name,
            "when": r.when,
            "enabled": r.enabled,
            "site": r.site,
            "last_fired_at": r.last_fired_at.isoformat() if r.last_fired_at else None,
        }
        for r in rules.items
    ]
    return ToolResult(
        "list_rules", {"total": rules.total, "items": items}, DataCitation("Rules", "/playbook")
    )


REGISTRY: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool(
            "site_kpis",
            "Energy KPIs of a site over local days: consumption, production, import, export "
            "(kWh), autarky and self-consumption (%), peak load/import (kW), import cost (EUR).",
            PeriodArgs,
            Role.VIEWER,
            _run_kpis,
        ),
        Tool(
            "compare_periods",
            "Why a bill was high or low: cost, import, evening-peak import, peak kW and "
            "mean price of a period against the previous one, with the largest driver.",
            PeriodArgs,
            Role.VIEWER,
            _run_compare,
        ),
        Tool(
            "price_hours",
            "The cheapest (or most expensive) hours of the day-ahead price over local days, in ct/kWh.",
            PriceArgs,
            Role.VIEWER,
            _run_prices,
        ),
        Tool(
            "forecast",
            "Forecast of a site's load or PV (kWh, peak kW) or the market price from now.",
            ForecastArgs,
            Role.VIEWER,
            _run_forecast,
        ),
        Tool(
            "optimiser_plan",
            "The optimiser's battery plan for a local day: when to charge, the cost and "
            "the savings (a plan only; nothing is activated).",
            PlanArgs,
            Role.VIEWER,
            _run_plan,
        ),
        Tool(
            "what_if",
            "Replay a stored period with a bigger/added battery or scaled PV: cost, import and "
            "autarky changes (stores the scenario).",
            WhatIfArgs,
            Role.ANALYST,
            _run_whatif,
        ),
        Tool(
            "open_alerts", "Open (unacknowledged) alerts, newest first.", AlertArgs, Role.VIEWER, _run_alerts
        ),
        Tool("list_rules", "The automation rules with when they last fired.", _Args, Role.VIEWER, _run_rules),
    )
}


def tools_for(role: Role) -> list[Tool]:
    """The tools a key with `role` may call."""
    return [t for t in REGISTRY.values() if role.allows(t.role)]


def list_sites(session: Session) -> tuple[str, ...]:
    """Every site with meters, sorted."""
    meters = timeseries_service.list_meters(session=session, site=None, kind=None, limit=10_000, offset=0)
    return tuple(sorted({m.site for m in meters.items if m.site}))

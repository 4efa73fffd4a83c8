"""HTTP request and response models of the decisions domain.

Units are in the field names; times are ISO 8601 with offset at the edges and UTC inside. Signs:
grid + = import, battery + = discharge (OpenEMS, Home Assistant, evcc and EMHASS do the same).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from luna_iems.bounds import (
    ID_MAX_CHARS,
    MARKET_MAX_CHARS,
    MAX_IDS,
    MAX_OFFSET,
    BoundedTimestamp,
    JsonInt,
    JsonNumber,
    Timestamp,
)
from luna_iems.decisions.rule_specs import MAX_MINUTES, RuleSpec
from luna_iems.integrations.notify import channels as notify_channels

Target = Literal["load", "pv", "price"]
Resolution = Literal["15m", "1h"]
ForecastModel = Literal["auto", "seasonal_naive", "gbm"]
Objective = Literal["cost", "self_consumption", "peak"]
MAX_HORIZON_H = 72
MAX_STEPS = MAX_HORIZON_H * 4  # 15-minute steps of the longest horizon
# Bounds far beyond any site this serves and far below a unit mix-up (W sent as kW): they keep the
# solver's numbers sane and make every field of the contract finite.
MAX_POWER_KW = 100_000.0  # 100 MW
MAX_ENERGY_KWH = 10_000_000.0  # 10 GWh
MAX_TARIFF_EUR_KWH = 10.0  # = 10,000 EUR/MWh, the harmonised day-ahead price limit
MAX_CAPACITY_CHARGE_EUR_KW = 10_000.0
MAX_CO2_G_KWH = 5_000.0  # lignite is ~1,100
PowerKw = Annotated[float, Field(strict=True, ge=-MAX_POWER_KW, le=MAX_POWER_KW)]
TariffEurKwh = Annotated[float, Field(strict=True, ge=-MAX_TARIFF_EUR_KWH, le=MAX_TARIFF_EUR_KWH)]
IdStr = Annotated[str, Field(max_length=ID_MAX_CHARS)]
MarketStr = Annotated[str, Field(max_length=MARKET_MAX_CHARS)]


class _Scoped(BaseModel):
    """Exactly one of `meter_id` and `site` for load and PV; neither for prices (they use a market)."""

    model_config = ConfigDict(extra="forbid")

    meter_id: IdStr | None = None
    site: IdStr | None = None
    market: MarketStr | None = Field(default=None, description="Price market (default: DEFAULT_MARKET)")
    product: MarketStr | None = Field(default=None, description="Price product (default: DEFAULT_PRODUCT)")


def resolution_minutes(resolution: Resolution) -> int:
    return 15 if resolution == "15m" else 60


# --- forecasts ------------------------------------------------------------------------------------
class ForecastRequest(_Scoped):
    target: Target
    horizon_h: JsonInt = Field(default=24, ge=1, le=MAX_HORIZON_H)
    resolution: Resolution = "15m"
    model: ForecastModel = Field(
        default="auto", description="auto: the learned model when the history allows it, else seasonal naive"
    )
    interval: float = Field(
        strict=True, default=0.8, gt=0.5, lt=1.0, description="Prediction interval, e.g. 0.8"
    )
    at: BoundedTimestamp | None = Field(
        default=None, description="Forecast origin (default: now, floored to the step)"
    )

    @model_validator(mode="after")
    def _scope_fits_target(self) -> ForecastRequest:
        check_scope(self.target, self.meter_id, self.site)
        return self


def check_scope(target: Target, meter_id: str | None, site: str | None) -> None:
    """Raises ValueError (a 422 naming the field) when the scope does not fit the target."""
    if target == "price":
        if meter_id is not None or site is not None:
            raise ValueError("meter_id/site: a price forecast is for a market; leave out meter_id and site")
    elif (meter_id is None) == (site is None):
        raise ValueError(f"meter_id/site: a {target} forecast needs exactly one of meter_id or site")


class ForecastPoint(BaseModel):
    ts: datetime
    value: float
    lower: float
    upper: float


class ForecastRead(BaseModel):
    scope: dict[str, Any]
    target: Target
    unit: str
    resolution: Resolution
    model: str = Field(description="The model actually used")
    interval: float
    history_from: datetime
    history_to: datetime
    history_points: int = Field(description="Steps of history with data")
    points: list[ForecastPoint]


class BacktestRequest(_Scoped):
    target: Target
    horizon_h: JsonInt = Field(default=24, ge=1, le=MAX_HORIZON_H)
    resolution: Resolution = "15m"
    models: list[Literal["seasonal_naive", "gbm"]] = Field(
        default=["seasonal_naive", "gbm"], min_length=1, max_length=2
    )
    origins: JsonInt = Field(default=7, ge=1, le=60, description="Rolling origins, one day apart")
    at: BoundedTimestamp | None = Field(default=None, description="End of the history (default: now)")

    @model_validator(mode="after")
    def _scope_fits_target(self) -> BacktestRequest:
        check_scope(self.target, self.meter_id, self.site)
        return self


class BacktestRow(BaseModel):
    model: str
    mae: float
    rmse: float
    mase: float = Field(description="MAE / MAE of seasonal naive on the same origins (< 1: better)")
    coverage: float | None = Field(description="Share of actuals inside the prediction interval")
    origins: int


class BacktestRead(BaseModel):
    scope: dict[str, Any]
    target: Target
    unit: str
    resolution: Resolution
    horizon_h: int
    history_from: datetime
    history_to: datetime
    rows: list[BacktestRow]


# --- optimiser ------------------------------------------------------------------------------------
class BatteryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="battery", min_length=1, max_length=100)
    battery_id: IdStr | None = Field(
        default=None,
        description="With `stored` inputs: start from this battery's newest reported state of charge "
        "(POST /ingest/battery-states) instead of soc_initial_pct, when it is at most an hour old",
    )
    capacity_kwh: float = Field(strict=True, gt=0, le=MAX_ENERGY_KWH)
    charge_max_kw: float = Field(
        strict=True, gt=0, le=MAX_POWER_KW, description="Storage side: energy into the cells per hour"
    )
    discharge_max_kw: float = Field(
        strict=True, gt=0, le=MAX_POWER_KW, description="Storage side: energy out of the cells per hour"
    )
    charge_efficiency: float = Field(strict=True, default=0.95, gt=0, le=1)
    discharge_efficiency: float = Field(strict=True, default=0.95, gt=0, le=1)
    soc_min_pct: float = Field(strict=True, default=10, ge=0, le=100)
    soc_max_pct: float = Field(strict=True, default=100, ge=0, le=100)
    soc_initial_pct: float = Field(strict=True, default=50, ge=0, le=100)
    soc_final_pct: float | None = Field(
        strict=True, default=None, ge=0, le=100, description="Final SOC target, see soc_final_mode"
    )
    soc_final_mode: Literal["at_least", "equal"] = Field(
        default="at_least",
        description="How soc_final_pct binds: `at_least` (the default, as before: final SOC >= it) or "
        "`equal` (final SOC = it)",
    )
    grid_charging: StrictBool = Field(default=True, description="False: charge from PV surplus only")
    grid_discharge: StrictBool = Field(default=True, description="False: battery energy is never exported")
    degradation_eur_kwh: float = Field(
        strict=True, default=0, ge=0, le=MAX_TARIFF_EUR_KWH, description="Cost per kWh of storage throughput"
    )


class DeferrableLoadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    power_kw: float = Field(strict=True, gt=0, le=MAX_POWER_KW)
    energy_kwh: float = Field(
        strict=True, gt=0, le=MAX_ENERGY_KWH, description="Energy to deliver inside the window"
    )
    window_start: BoundedTimestamp | None = Field(default=None, description="Default: start of the horizon")
    window_end: BoundedTimestamp | None = Field(
        default=None, description="Done by then (default: horizon end)"
    )
    min_run_minutes: JsonInt = Field(
        default=15,
        ge=0,
        le=MAX_HORIZON_H * 60,
        description="Minimum continuous run once started",
    )
    on_off: StrictBool = Field(default=True, description="True: runs at power_kw or not at all")


class ExplicitInputs(BaseModel):
    """One value per step; prices in EUR/kWh (the tariff the site pays and earns)."""

    model_config = ConfigDict(extra="forbid")

    load_kw: list[PowerKw] = Field(min_length=1, max_length=MAX_STEPS)
    pv_kw: list[PowerKw] | None = Field(default=None, max_length=MAX_STEPS, description="Default: no PV")
    import_price_eur_kwh: list[TariffEurKwh] = Field(max_length=MAX_STEPS)
    export_price_eur_kwh: list[TariffEurKwh] | None = Field(
        default=None, max_length=MAX_STEPS, description="Default: 0"
    )


class StoredInputs(_Scoped):
    """Load and PV from forecasts of the stored history; prices from stored spot prices (forecast where
    none is stored yet), turned into a tariff: import = spot + markup, export = feed-in tariff or spot."""

    import_markup_eur_kwh: TariffEurKwh | None = Field(
        default=None, description="Default: IMPORT_MARKUP_EUR_KWH"
    )
    export_tariff_eur_kwh: TariffEurKwh | None = Field(
        default=None, description="Default: EXPORT_TARIFF_EUR_KWH"
    )


class OptimizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: BoundedTimestamp | None = Field(default=None, description="First step (default: the next step)")
    resolution: Resolution = Field(default="15m", description="Step length; `step_minutes` overrides it")
    step_minutes: Literal[15, 30, 60] | None = Field(
        default=None,
        description="Step length in minutes (15, 30 or 60); explicit `inputs` give one value per step, "
        "`stored` inputs are averaged to it (energy-preserving means). Default: `resolution` (15 min)",
    )
    horizon_h: Annotated[int, Field(ge=1, le=MAX_HORIZON_H), JsonNumber] | None = Field(
        default=None, description="With `stored` inputs"
    )
    inputs: ExplicitInputs | None = None
    stored: StoredInputs | None = None
    batteries: list[BatteryIn] = Field(default=[], max_length=10)
    deferrable_loads: list[DeferrableLoadIn] = Field(default=[], max_length=20)
    grid_import_max_kw: float | None = Field(strict=True, default=None, gt=0, le=MAX_POWER_KW)
    grid_export_max_kw: float | None = Field(strict=True, default=None, ge=0, le=MAX_POWER_KW)
    curtailment_allowed: StrictBool = True
    objective: Objective = "cost"
    peak_charge_eur_kw: float = Field(
        strict=True,
        default=0,
        ge=0,
        le=MAX_CAPACITY_CHARGE_EUR_KW,
        description="Capacity charge on the highest import",
    )
    peak_floor_kw: float = Field(
        strict=True,
        default=0,
        ge=0,
        le=MAX_POWER_KW,
        description="Highest import already reached this billing period: only a peak above it is charged",
    )
    activate: StrictBool = Field(
        default=False,
        description="Dispatch the plan: publish each step's setpoints to MQTT at its start (needs the "
        "analyst role, DISPATCH_ENABLED and MQTT_URL; see GET /dispatch). It supersedes the active plan",
    )

    @model_validator(mode="after")
    def _one_source(self) -> OptimizeRequest:
        if (self.inputs is None) == (self.stored is None):
            raise ValueError(
                "inputs/stored: give exactly one of `inputs` (explicit arrays) or `stored` "
                "(forecasts and stored prices)"
            )
        if self.stored is not None and self.horizon_h is None:
            raise ValueError("horizon_h: `stored` inputs need horizon_h (1-72)")
        explicit_resolution = "resolution" in self.model_fields_set
        step = self.step_minutes
        if step is not None and explicit_resolution and step != resolution_minutes(self.resolution):
            raise ValueError(
                f"step_minutes/resolution: step_minutes={step} contradicts "
                f"resolution={self.resolution!r}; give only step_minutes"
            )
        names = [b.name for b in self.batteries] + [d.name for d in self.deferrable_loads]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"batteries/deferrable_loads: names must be unique, repeated: {duplicates}")
        return self


class BatteryStep(BaseModel):
    power_kw: float = Field(description="+ discharge, - charge (grid side)")
    soc_pct: float = Field(description="At the end of the step")


class ScheduleStep(BaseModel):
    ts: datetime
    load_kw: float
    pv_kw: float
    import_price_eur_kwh: float
    export_price_eur_kwh: float
    grid_kw: float = Field(description="+ import, - export")
    curtailment_kw: float
    batteries: dict[str, BatteryStep]
    deferrable_kw: dict[str, float]


class ScheduleRead(BaseModel):
    status: Literal["optimal", "node_limit", "time_limit"] = Field(
        description="`optimal`: proven optimal (relative gap <= 1e-6). `node_limit` / `time_limit`: a "
        "feasible plan, the solver stopped at that limit before proving optimality (see mip_gap)"
    )
    mip_gap: float | None = Field(
        default=None, description="Relative gap HiGHS proved: the plan is at most this far from optimal"
    )
    cost_bound_eur: float | None = Field(
        default=None, description="No plan costs less than this (total_cost_eur minus the proven gap)"
    )
    objective: Objective
    inputs: Literal["explicit", "stored"]
    resolution: Literal["15m", "30m", "1h"]
    step_minutes: Literal[15, 30, 60] = 15
    solve_time_s: float
    total_cost_eur: float
    baseline_cost_eur: float = Field(description="Same period without flexibility (no battery, loads ASAP)")
    savings_eur: float
    peak_import_kw: float
    notes: list[str] = Field(default=[], description="Where inputs came from (forecast models, gaps)")
    steps: list[ScheduleStep]
    plan_id: uuid.UUID | None = Field(
        default=None, description="With `activate`: the dispatch plan now active (GET /dispatch)"
    )


# --- rules ------------------------------------------------------------------------------------------
# A rule's notification channels: "mqtt", "webhook" (every webhook) or "webhook:<id>"; a bad one is a
# 422 naming it and its index.
ChannelStr = Annotated[str, Field(max_length=60), AfterValidator(notify_channels.normalise_channel)]
CHANNELS_DESCRIPTION = (
    "Where firings are announced: 'mqtt', 'webhook' (every webhook) or 'webhook:<webhook id>'; "
    "empty: NOTIFY_DEFAULT_CHANNELS"
)


class RuleCreate(RuleSpec):
    """A declarative rule (see `decisions.rules`): `when` is an expression over GET /rules/variables,
    `then` an action with a severity and a message template. `site` picks the data it watches."""

    site: str = Field(default="default", min_length=1, max_length=ID_MAX_CHARS)
    channels: list[ChannelStr] = Field(
        default_factory=list, max_length=notify_channels.MAX_CHANNELS, description=CHANNELS_DESCRIPTION
    )


class RuleUpdate(BaseModel):
    """Fields to change; the merged rule is validated as a whole."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=1000)
    when: str | None = Field(default=None, min_length=1, max_length=2000)
    then: dict[str, Any] | None = None
    for_minutes: float | None = Field(strict=True, default=None, ge=0, le=MAX_MINUTES)
    cooldown_minutes: float | None = Field(strict=True, default=None, ge=0, le=MAX_MINUTES)
    # null clears them (hysteresis off; the site mean): these two are nullable in RuleSpec.
    rearm_when: str | None = Field(default=None, min_length=1, max_length=2000)
    battery: str | None = Field(default=None, min_length=1, max_length=ID_MAX_CHARS)
    enabled: StrictBool | None = None
    site: str | None = Field(default=None, min_length=1, max_length=ID_MAX_CHARS)
    channels: list[ChannelStr] | None = Field(
        default=None, max_length=notify_channels.MAX_CHANNELS, description=CHANNELS_DESCRIPTION
    )


class RuleRead(BaseModel):
    rule_id: uuid.UUID
    name: str
    description: str
    when: str
    then: dict[str, Any]
    for_minutes: float
    cooldown_minutes: float
    rearm_when: str | None = None
    battery: str | None = None
    enabled: bool
    site: str
    channels: list[str] = Field(default=[], description=CHANNELS_DESCRIPTION)
    created_at: datetime
    updated_at: datetime
    last_fired_at: datetime | None
    last_evaluated_at: datetime | None


class RuleList(BaseModel):
    items: list[RuleRead]
    total: int


class RuleVariable(BaseModel):
    name: str
    unit: str
    description: str


class RuleEvaluateRequest(BaseModel):
    """A dry run over a past range: the saved rules (all, or `rule_ids`) or unsaved `rules`."""

    model_config = ConfigDict(extra="forbid")

    ts_from: BoundedTimestamp = Field(alias="from")
    ts_to: BoundedTimestamp = Field(alias="to")
    site: IdStr | None = Field(default=None, description="Default: each rule's own site")
    rule_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_IDS)
    rules: list[RuleCreate] | None = Field(default=None, max_length=50, description="Unsaved rules")
    market: MarketStr | None = None
    product: MarketStr | None = None


class RuleFiring(BaseModel):
    rule: str
    ts: datetime
    action: str
    severity: str
    message: str | None
    values: dict[str, float | bool | None]


class RuleSummary(BaseModel):
    rule: str
    fired: int
    steps_true: int
    missing: dict[str, int] = Field(description="Steps where a variable the rule needs had no value")


class RuleEvaluateRead(BaseModel):
    ts_from: datetime
    ts_to: datetime
    steps: int
    firings: list[RuleFiring]
    summary: list[RuleSummary]


# --- alerts and anomalies -----------------------------------------------------------------------------
class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    alert_id: uuid.UUID
    source: str
    kind: str
    severity: str
    meter_id: str | None
    rule_id: uuid.UUID | None
    field: str | None
    start_at: datetime
    end_at: datetime
    score: float | None
    message: str
    evidence: dict[str, Any]
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class AlertQuery(BaseModel):
    """Filters and paging of GET /alerts (query parameters)."""

    model_config = ConfigDict(extra="forbid")

    acknowledged: bool | None = None
    severity: Literal["info", "warning", "critical"] | None = None
    kind: str | None = Field(
        default=None, max_length=50, description="spike, flatline, gap, drift, or a rule's action"
    )
    meter_id: IdStr | None = None
    since: Timestamp | None = Field(default=None, description="Alerts starting at or after (ISO 8601)")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class AlertList(BaseModel):
    items: list[AlertRead]
    total: int


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meter_id: IdStr | None = Field(default=None, description="Default: every meter")
    ts_from: BoundedTimestamp = Field(alias="from")
    ts_to: BoundedTimestamp = Field(alias="to")


class DetectRead(BaseModel):
    meters: int
    anomalies: int
    new_alerts: int
    alerts: list[AlertRead]


# --- what-if scenarios ------------------------------------------------------------------------------
class Tariff(BaseModel):
    model_config = ConfigDict(extra="forbid")

    import_markup_eur_kwh: TariffEurKwh | None = Field(
        default=None, description="Default: IMPORT_MARKUP_EUR_KWH"
    )
    export_tariff_eur_kwh: TariffEurKwh | None = Field(default=None, description="Default: spot (or setting)")
    peak_charge_eur_kw: float = Field(
        strict=True,
        default=0,
        ge=0,
        le=MAX_CAPACITY_CHARGE_EUR_KW,
        description="Per kW of the period's highest import",
    )


class Variation(BaseModel):
    """What changes against the baseline; fields left out keep the baseline's value."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    battery_capacity_kwh: float | None = Field(
        strict=True, default=None, ge=0, le=MAX_ENERGY_KWH, description="0: no battery"
    )
    battery_power_kw: float | None = Field(strict=True, default=None, gt=0, le=MAX_POWER_KW)
    pv_scale: float | None = Field(
        strict=True, default=None, ge=0, le=100, description="PV production times this"
    )
    tariff: Tariff | None = None
    peak_limit_kw: float | None = Field(
        strict=True, default=None, gt=0, le=MAX_POWER_KW, description="Grid import cap (kW)"
    )


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    battery: BatteryIn | None = Field(default=None, description="The site's battery today, if any")
    tariff: Tariff = Tariff()


class WhatIfRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="what-if", min_length=1, max_length=200)
    meter_id: IdStr | None = None
    site: IdStr | None = None
    ts_from: BoundedTimestamp = Field(alias="from")
    ts_to: BoundedTimestamp = Field(alias="to")
    market: MarketStr | None = None
    product: MarketStr | None = None
    co2_intensity_g_kwh: float | None = Field(
        strict=True, default=None, ge=0, le=MAX_CO2_G_KWH, description="Default: CO2_INTENSITY_G_KWH"
    )
    baseline: Baseline = Baseline()
    variations: list[Variation] = Field(min_length=1, max_length=8)


class ScenarioKpis(BaseModel):
    cost_eur: float
    import_kwh: float
    export_kwh: float
    consumption_kwh: float
    production_kwh: float
    self_consumption_rate: float | None
    autarky_rate: float | None
    peak_import_kw: float
    co2_kg: float


class ScenarioRead(BaseModel):
    scenario_id: uuid.UUID
    name: str
    created_at: datetime
    scope: dict[str, Any]
    ts_from: datetime
    ts_to: datetime
    why: dict[str, Any] = Field(description="Why act: the baseline's numbers and what drives its cost")
    what: list[dict[str, Any]] = Field(description="What was tried: each variation and its KPIs")
    how: list[dict[str, Any]] = Field(description="How each variation gets there: dispatch summary")
    what_if: list[dict[str, Any]] = Field(description="What changes: deltas against the baseline")


class ScenarioSummary(BaseModel):
    scenario_id: uuid.UUID
    name: str
    created_at: datetime


class ScenarioList(BaseModel):
    items: list[ScenarioSummary]
    total: int

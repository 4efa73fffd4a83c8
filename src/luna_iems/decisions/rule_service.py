"""Rules: CRUD, the variables they see (built from stored data), dry runs and scheduled evaluation.

The rule language and its semantics (for_minutes, cooldown, missing data) live in `rules`, pure.
Here every 15-minute step of a site becomes a context of the variables in `rule_specs.VARIABLES`:

- energy: the site's 15-minute rollups (import/export are the net of consumption and production);
- prices: the stored day-ahead prices; `price_next_h_eur_mwh` is the mean of the next hour (day-ahead
  prices are published the day before, so it is known); `price_day_avg_eur_mwh` the local day's mean;
- forecasts: seasonal naive, the value one week earlier for load and one day earlier for PV (what the
  site knew at the time; the learned models are for `/forecast`, too slow to refit at every step);
- `peak_month_kw`: the highest 15-minute import of the local month before the step;
- `soc_pct`: the mean state of charge of the site's batteries (`POST /ingest/battery-states`), each
  battery's newest state reported before the end of the step and at most `SOC_MAX_AGE` old; missing
  (the rule reports it unavailable) when no battery of the site reported in time. Each battery's own
  value is in the context as `soc_pct['<battery_id>']` (rules with `battery` or a subscript read it);
  a rule may only name batteries that have reported a state for its site (422 otherwise).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml
from sqlalchemy.orm import Session

from luna_iems.bounds import ID_MAX_CHARS
from luna_iems.db.base import to_epoch_us, utcnow
from luna_iems.decisions import history as history_module
from luna_iems.decisions import repository, rule_specs, rules
from luna_iems.decisions.models import Alert, Rule
from luna_iems.decisions.schemas import (
    RuleCreate,
    RuleEvaluateRead,
    RuleEvaluateRequest,
    RuleFiring,
    RuleList,
    RuleRead,
    RuleSummary,
    RuleUpdate,
    RuleVariable,
)
from luna_iems.errors import ConflictError, InvalidInputError, NotFoundError
from luna_iems.integrations.notify import service as notify_service
from luna_iems.settings import Settings
from luna_iems.timeseries import repository as timeseries_repository

log = logging.getLogger(__name__)

STEP = timedelta(minutes=15)
SOC_MAX_AGE = timedelta(hours=1)  # an older state of charge is not "now" any more
MAX_DRY_RUN_DAYS = 31
NOT_IN_SPEC = {"site", "channels"}  # rule fields kept in columns, not in the stored spec
Context = dict[str, float | bool | None]


# --- CRUD ---------------------------------------------------------------------------------------------
def _spec_of(rule_in: RuleCreate) -> dict[str, Any]:
    return rule_in.model_dump(mode="json", exclude={"site", "channels"})


def _compile(spec: Mapping[str, Any]) -> rules.CompiledRule:
    """Raises InvalidInputError (422) naming the field and the bad expression."""
    try:
        return rules.parse_rule(spec)
    except rules.RuleError as exc:
        raise InvalidInputError(str(exc), details={"field": exc.field, "expression": exc.expression}) from exc


def rule_read(rule: Rule) -> RuleRead:
    spec = rule.spec
    return RuleRead(
        rule_id=rule.rule_id,
        name=rule.name,
        description=spec.get("description", ""),
        when=spec["when"],
        then=spec["then"],
        for_minutes=spec.get("for_minutes", 0),
        cooldown_minutes=spec.get("cooldown_minutes", 0),
        rearm_when=spec.get("rearm_when"),
        battery=spec.get("battery"),
        enabled=rule.enabled,
        site=rule.site,
        channels=rule.channels or [],
        created_at=rule.created_at,
        updated_at=rule.updated_at,
        last_fired_at=rule.last_fired_at,
        last_evaluated_at=rule.last_evaluated_at,
    )


def get_rule(*, session: Session, rule_id: uuid.UUID) -> Rule:
    rule = repository.get_rule(session=session, rule_id=rule_id)
    if rule is None:
        raise NotFoundError(f"rule {rule_id} not found", details={"rule_id": str(rule_id)})
    return rule


def create_rule(*, session: Session, rule_in: RuleCreate) -> RuleRead:
    """Store a validated rule; raises ConflictError (409) when the name is taken."""
    spec = _spec_of(rule_in)
    check_batteries(session=session, rule=_compile(spec), site=rule_in.site)
    if repository.get_rule_by_name(session=session, name=rule_in.name) is not None:
        raise ConflictError(f"a rule named {rule_in.name!r} exists", details={"field": "name"})
    channels = notify_service.check_channels(session=session, channels=rule_in.channels)
    rule = Rule(name=rule_in.name, spec=spec, enabled=rule_in.enabled, site=rule_in.site, channels=channels)
    repository.add_rule(session=session, rule=rule)
    session.commit()
    return rule_read(rule)


def _rule_documents(text: str) -> list[Any]:
    """The rules of a YAML/JSON document as a list (a single mapping is one rule)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        rules.parse_rules_yaml(text)  # raises RuleError with the line and column
        raise
    if document is None:
        return []
    return (
        [document] if isinstance(document, dict) else document if isinstance(document, list) else [document]
    )


def _site_of(item: object, index: int) -> str:
    """The `site` of an imported rule, bounded like RuleCreate.site (the column holds 100 characters)."""
    site = str(item.get("site", "default")) if isinstance(item, dict) else "default"
    if not 1 <= len(site) <= ID_MAX_CHARS:
        raise InvalidInputError(
            f"rules[{index}].site: use 1 to {ID_MAX_CHARS} characters (got {len(site)})",
            details={"field": "site", "rule_index": index},
        )
    return site


def _channels_of(session: Session, item: object, index: int) -> list[str]:
    """The `channels` of an imported rule, checked like RuleCreate.channels (422 names the rule)."""
    value = item.get("channels", []) if isinstance(item, dict) else []
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise InvalidInputError(
            f"rules[{index}].channels: a list of channels, e.g. ['mqtt', 'webhook:<id>']",
            details={"field": "channels", "rule_index": index},
        )
    try:
        return notify_service.check_channels(session=session, channels=value)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"rules[{index}].{exc.message}", details={**(exc.details or {}), "rule_index": index}
        ) from exc


def import_rules(*, session: Session, text: str) -> RuleList:
    """Store every rule of a YAML (or JSON) document, or none: 422 names the rule and the field of the
    first invalid one, 409 names taken names. A rule may carry `site` (default "default")."""
    try:
        items = _rule_documents(text)
        sites = [_site_of(item, index) for index, item in enumerate(items)]
        specs = [
            {k: v for k, v in item.items() if k not in NOT_IN_SPEC} if isinstance(item, dict) else item
            for item in items
        ]
        compiled = rules.parse_rules(specs)
    except rules.RuleError as exc:
        raise InvalidInputError(
            str(exc), details={"field": exc.field, "rule_index": exc.rule_index, "rule": exc.rule_name}
        ) from exc
    if not compiled:
        raise InvalidInputError("the document holds no rules", details={"field": "body"})
    for index, (rule, site) in enumerate(zip(compiled, sites, strict=True)):
        check_batteries(session=session, rule=rule, site=site, rule_index=index)
    taken = [r.name for r in compiled if repository.get_rule_by_name(session=session, name=r.name)]
    if taken:
        raise ConflictError(f"rules already exist: {taken}", details={"field": "name", "names": taken})
    channels = [_channels_of(session, item, index) for index, item in enumerate(items)]
    stored = [
        Rule(name=r.name, spec=r.spec.model_dump(mode="json"), enabled=r.enabled, site=site, channels=ch)
        for r, site, ch in zip(compiled, sites, channels, strict=True)
    ]
    for row in stored:
        repository.add_rule(session=session, rule=row)
    session.commit()
    items_read = [rule_read(r) for r in stored]
    return RuleList(items=items_read, total=len(items_read))


def seed_example_rules(*, session: Session, site: str) -> str | None:
    """Store the example rules (`rule_specs.BUILTIN_RULES`) for `site` when no rule exists yet."""
    if repository.list_rules(session=session):
        return None
    for spec in rule_specs.BUILTIN_RULES:
        compiled = _compile(spec)
        stored = compiled.spec.model_dump(mode="json")
        repository.add_rule(session=session, rule=Rule(name=compiled.name, spec=stored, site=site))
    session.commit()
    return f"{len(rule_specs.BUILTIN_RULES)} example rules (GET /rules)"


def update_rule(*, session: Session, rule_id: uuid.UUID, rule_in: RuleUpdate) -> RuleRead:
    """Merge the changes and validate the whole rule again; a changed condition restarts its clock."""
    rule = get_rule(session=session, rule_id=rule_id)
    changes = rule_in.model_dump(exclude_unset=True, exclude={"site", "channels"})
    spec = {**rule.spec, **changes}
    check_batteries(session=session, rule=_compile(spec), site=rule_in.site or rule.site)
    if changes.keys() & {"when", "for_minutes", "rearm_when", "battery"}:
        rule.condition_since = None
    rule.spec = spec
    rule.enabled = spec.get("enabled", True)
    if rule_in.site is not None:
        rule.site = rule_in.site
    if rule_in.channels is not None:
        rule.channels = notify_service.check_channels(session=session, channels=rule_in.channels)
    rule.updated_at = utcnow()
    session.commit()
    return rule_read(rule)


def delete_rule(*, session: Session, rule_id: uuid.UUID) -> None:
    repository.delete_rule(session=session, rule=get_rule(session=session, rule_id=rule_id))
    session.commit()


def list_rules(*, session: Session) -> RuleList:
    items = [rule_read(r) for r in repository.list_rules(session=session)]
    return RuleList(items=items, total=len(items))


def variables() -> list[RuleVariable]:
    return [
        RuleVariable(name=v.name, unit=v.unit, description=v.description)
        for v in rule_specs.VARIABLES.values()
    ]


# --- contexts from stored data ------------------------------------------------------------------------
def _month_start(instant: datetime, tz: ZoneInfo) -> datetime:
    local = instant.astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _running_month_peak(
    imports: np.ndarray[Any, Any], slots: list[datetime], tz: ZoneInfo
) -> list[float | None]:
    """Highest import before each slot within its local month (None before the month's first value)."""
    peaks: list[float | None] = []
    month, best = None, float("nan")
    for ts, value in zip(slots, imports, strict=True):
        local = ts.astimezone(tz)
        if (local.year, local.month) != month:
            month, best = (local.year, local.month), float("nan")
        peaks.append(None if np.isnan(best) else best)
        if np.isfinite(value):
            best = value if np.isnan(best) else max(best, float(value))
    return peaks


def _value(array: np.ndarray[Any, Any], i: int) -> float | None:
    if i < 0 or i >= array.size or not np.isfinite(array[i]):
        return None
    return float(array[i])


def site_contexts(
    *,
    session: Session,
    settings: Settings,
    site: str,
    ts_from: datetime,
    ts_to: datetime,
    market: str | None = None,
    product: str | None = None,
) -> list[tuple[datetime, Context]]:
    """One context per 15-minute step in [ts_from, ts_to) of `site` (see the module docstring)."""
    scope = history_module.resolve_scope(session=session, meter_id=None, site=site)
    tz = ZoneInfo(scope.timezone)
    ts_from, ts_to = history_module.floor_to_step(ts_from, 15), history_module.floor_to_step(ts_to, 15)
    lead = min(_month_start(ts_from, tz), ts_from - timedelta(days=7))
    energy = history_module.load_energy(session=session, scope=scope, ts_from=lead, ts_to=ts_to)
    day = timedelta(days=1)
    prices = history_module.load_prices(
        session=session,
        market=market or settings.default_market,
        product=product or settings.default_product,
        ts_from=ts_from - day,
        ts_to=ts_to + day,
    )
    slots = energy.timestamps()
    peaks = _running_month_peak(energy.import_kw, slots, tz)
    first = int((ts_from - lead) / STEP)
    week, per_day = 7 * 96, 96
    per_battery = battery_soc(session=session, site=site, steps=slots[first:])
    soc = _mean_soc(per_battery, len(slots) - first)
    contexts: list[tuple[datetime, Context]] = []
    for i in range(first, len(slots)):
        ts = slots[i]
        p = i - first + per_day  # index of this step in `prices`
        midnight = ts.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        # Wall-clock arithmetic: the next local midnight, so DST days have 92 or 100 quarter-hours.
        day_start = p - int((ts - midnight) / STEP)
        day_end = day_start + int((midnight + timedelta(days=1) - midnight.astimezone(UTC)) / STEP)
        day_prices = prices[max(day_start, 0) : day_end]
        next_hour = prices[p + 1 : p + 5]
        grid = _value(energy.import_kw, i)
        export = _value(energy.export_kw, i)
        context: Context = {
            "import_kw": grid,
            "export_kw": export,
            "grid_kw": None if grid is None or export is None else grid - export,
            "consumption_kw": _value(energy.consumption_kw, i),
            "production_kw": _value(energy.production_kw, i),
            "price_eur_mwh": _value(prices, p),
            "price_next_h_eur_mwh": float(np.mean(next_hour)) if np.isfinite(next_hour).all() else None,
            "price_day_avg_eur_mwh": float(np.nanmean(day_prices)) if np.isfinite(day_prices).any() else None,
            "soc_pct": soc[i - first],
            **{rules.battery_key("soc_pct", b): values[i - first] for b, values in per_battery.items()},
            "forecast_load_kw": _value(energy.consumption_kw, i + 1 - week),
            "forecast_pv_kw": _value(energy.production_kw, i + 1 - per_day),
            "peak_month_kw": peaks[i],
            **rules.time_variables(ts, tz=tz),
        }
        contexts.append((ts, context))
    return contexts


def site_soc(*, session: Session, site: str, steps: Sequence[datetime]) -> list[float | None]:
    """Per step [t, t + 15 min): the mean over the site's batteries of each one's newest reported state
    of charge before t + 15 min, if not older than `SOC_MAX_AGE`; None when no battery qualifies."""
    return _mean_soc(battery_soc(session=session, site=site, steps=steps), len(steps))


def _mean_soc(per_battery: Mapping[str, Sequence[float | None]], n: int) -> list[float | None]:
    if not per_battery:
        return [None] * n
    stacked = np.array([[np.nan if v is None else v for v in column] for column in per_battery.values()])
    counts = np.isfinite(stacked).sum(axis=0)
    means = np.nansum(stacked, axis=0) / np.maximum(counts, 1)
    return [float(m) if c else None for m, c in zip(means, counts, strict=True)]


def battery_soc(*, session: Session, site: str, steps: Sequence[datetime]) -> dict[str, list[float | None]]:
    """Per battery of the site that reported in range, per step as in `site_soc` (None: no fresh state)."""
    if not steps:
        return {}
    states = timeseries_repository.list_battery_states(
        session=session,
        battery_id=None,
        site=site,
        ts_from=steps[0] - SOC_MAX_AGE,
        ts_to=steps[-1] + STEP,
        limit=10_000_000,
    )
    if not states:
        return {}
    ends = np.array([to_epoch_us(t + STEP) for t in steps], dtype=np.int64)
    max_age_us = int(SOC_MAX_AGE.total_seconds() * 1e6)
    per_battery: dict[str, tuple[list[int], list[float]]] = {}
    for state in states:
        times, values = per_battery.setdefault(state.battery_id, ([], []))
        times.append(to_epoch_us(state.ts))
        values.append(state.soc_pct)
    columns: dict[str, list[float | None]] = {}
    for battery_id, (times, values) in sorted(per_battery.items()):
        ts_us, soc = np.asarray(times, dtype=np.int64), np.asarray(values, dtype=np.float64)
        index = np.searchsorted(ts_us, ends, side="left") - 1  # newest state strictly before the end
        fresh = (index >= 0) & (ends - ts_us[np.maximum(index, 0)] <= max_age_us)
        column = np.where(fresh, soc[np.maximum(index, 0)], np.nan)
        columns[battery_id] = [float(v) if np.isfinite(v) else None for v in column]
    return columns


def check_batteries(
    *, session: Session, rule: rules.CompiledRule, site: str, rule_index: int | None = None
) -> None:
    """Raise InvalidInputError (422) when the rule names a battery that never reported a state for
    `site`: the field (`battery`, `when` or `rearm_when`), the column in the expression, the known ids."""
    named = rule.batteries
    if not named:
        return
    known = timeseries_repository.list_battery_ids(session=session, site=site)
    unknown = [b for b in named if b not in known]
    if not unknown:
        return
    battery, spec = unknown[0], rule.spec
    field, position, expression = "battery", None, None
    if spec.battery != battery:
        key = rules.battery_key("soc_pct", battery)
        for name, text in (("when", spec.when), ("rearm_when", spec.rearm_when)):
            if text and key in text:
                field, expression, position = name, text, text.index(key) + 1
                break
    where = f"rules[{rule_index}] ({rule.name}): " if rule_index is not None else ""
    column = f" at column {position}" if position else ""
    raise InvalidInputError(
        f"{where}{field}: unknown battery {battery!r}{column} for site {site!r}; "
        + (f"known: {', '.join(known)}" if known else "no battery has reported a state for this site yet"),
        details={
            "field": field,
            "battery": battery,
            "position": position,
            "expression": expression,
            "known": known,
            "rule_index": rule_index,
        },
    )


# --- dry run ------------------------------------------------------------------------------------------
def _rules_for_dry_run(
    *, session: Session, request: RuleEvaluateRequest
) -> list[tuple[rules.CompiledRule, str]]:
    if request.rules is not None:
        compiled = [(_compile(_spec_of(r)), request.site or r.site) for r in request.rules]
        for index, (rule, site) in enumerate(compiled):
            check_batteries(session=session, rule=rule, site=site, rule_index=index)
        return compiled
    stored = repository.list_rules(session=session)
    if request.rule_ids is not None:
        wanted = set(request.rule_ids)
        stored = [r for r in stored if r.rule_id in wanted]
        missing = wanted - {r.rule_id for r in stored}
        if missing:
            raise NotFoundError(
                f"rules not found: {sorted(map(str, missing))}", details={"field": "rule_ids"}
            )
    return [(_compile(r.spec), request.site or r.site) for r in stored]


def evaluate(*, session: Session, settings: Settings, request: RuleEvaluateRequest) -> RuleEvaluateRead:
    """Replay rules over a past range (at most 31 days) and report every firing and how often each rule's
    condition held or lacked data. Nothing is written."""
    history_module.check_span(request.ts_from, request.ts_to, max_days=MAX_DRY_RUN_DAYS, what="a dry run")
    compiled = _rules_for_dry_run(session=session, request=request)
    by_site: dict[str, list[rules.CompiledRule]] = {}
    for rule, site in compiled:
        by_site.setdefault(site, []).append(rule)
    firings: list[RuleFiring] = []
    summaries: list[RuleSummary] = []
    steps = 0
    for site, site_rules in by_site.items():
        contexts = site_contexts(
            session=session,
            settings=settings,
            site=site,
            ts_from=request.ts_from,
            ts_to=request.ts_to,
            market=request.market,
            product=request.product,
        )
        steps = max(steps, len(contexts))
        fired = rules.dry_run(site_rules, contexts, include_disabled=True)
        firings += [_firing(f) for f in fired]
        summaries += [_summary(rule, contexts, fired) for rule in site_rules]
    firings.sort(key=lambda f: f.ts)
    return RuleEvaluateRead(
        ts_from=request.ts_from, ts_to=request.ts_to, steps=steps, firings=firings, summary=summaries
    )


def _firing(firing: rules.Firing) -> RuleFiring:
    return RuleFiring(
        rule=firing.rule_name,
        ts=firing.ts,
        action=firing.action.value,
        severity=firing.severity.value,
        message=firing.message,
        values=dict(firing.values),
    )


def _summary(
    rule: rules.CompiledRule, contexts: Sequence[tuple[datetime, Context]], fired: Sequence[rules.Firing]
) -> RuleSummary:
    missing: dict[str, int] = {}
    true_steps = 0
    for _, context in contexts:
        result = rule.evaluate(context)
        true_steps += result.fired
        for name in result.missing:
            missing[name] = missing.get(name, 0) + 1
    return RuleSummary(
        rule=rule.name,
        fired=sum(1 for f in fired if f.rule_name == rule.name),
        steps_true=true_steps,
        missing=missing,
    )


# --- scheduled evaluation -----------------------------------------------------------------------------
def evaluate_due(*, session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Evaluate every enabled rule on the latest complete 15-minute step of its site, advancing its
    persisted state; each firing writes an alert (the notify outbox announces it as `rule.fired`; the
    telemetry events table is for people's anonymous interactions only). Returns the firings.

    Idempotent per step: a rule already evaluated at that step is skipped, so a job that runs twice
    (or after a restart) never fires twice for the same data.
    """
    step_ts = history_module.floor_to_step(now or datetime.now(UTC), 15) - STEP
    fired = 0
    for site, site_rules in _enabled_by_site(session).items():
        due = [r for r in site_rules if r.last_evaluated_at is None or r.last_evaluated_at < step_ts]
        if not due:
            continue
        try:
            contexts = site_contexts(
                session=session, settings=settings, site=site, ts_from=step_ts, ts_to=step_ts + STEP
            )
        except NotFoundError:
            log.info("rules of site %r skipped: the site has no meters", site)
            continue
        ts, context = contexts[-1]
        for rule in due:
            fired += _step_rule(session, rule, ts, context)
        session.commit()  # per site: one site's failure does not undo another's evaluation
    return fired


def _enabled_by_site(session: Session) -> dict[str, list[Rule]]:
    grouped: dict[str, list[Rule]] = {}
    for rule in repository.list_rules(session=session, enabled=True):
        grouped.setdefault(rule.site, []).append(rule)
    return grouped


def _step_rule(session: Session, rule: Rule, ts: datetime, context: Context) -> int:
    try:
        compiled = rules.parse_rule(rule.spec)
    except rules.RuleError as exc:  # stored before a catalog change: report, don't crash the job
        log.warning("rule %r is no longer valid: %s", rule.name, exc)
        return 0
    state = rules.RuleState(condition_since=rule.condition_since, last_fired=rule.last_fired_at)
    state, firing = rules.step(compiled, state, ts, context)
    rule.condition_since, rule.last_fired_at, rule.last_evaluated_at = (
        state.condition_since,
        state.last_fired,
        ts,
    )
    if firing is None:
        return 0
    evidence = {name: value for name, value in firing.values.items()}
    alert = Alert(
        fingerprint=f"rule:{rule.rule_id}:{ts.isoformat()}",
        source="rule",
        kind=firing.action.value,
        severity=firing.severity.value,
        rule_id=rule.rule_id,
        start_at=ts,
        end_at=ts + STEP,
        message=firing.message,
        evidence={"rule": rule.name, **evidence},
    )
    repository.add_alerts(session=session, alerts=[alert])
    return 1

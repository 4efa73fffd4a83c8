"""What users write: a rule's spec (``RuleSpec``, ``RuleThen``), the variable catalog and the examples.

A rule looks like this (YAML; JSON with the same keys works too)::

    name: cheap-charging
    description: Charge the battery from the grid when power is cheap
    when: "price_eur_mwh < 30 and soc_pct < 80"
    then: {action: charge_battery, message: "Price {price_eur_mwh:.0f} EUR/MWh", severity: info}
    for_minutes: 15        # the condition must have held this long before the rule fires
    cooldown_minutes: 60   # after firing, stay quiet this long
    rearm_when: "soc_pct >= 90"  # optional hysteresis: after firing, quiet until this holds
    battery: hall          # optional: `soc_pct` means this battery's state of charge, not the site mean
    enabled: true

``when`` and ``rearm_when`` use the expression language of ``expressions.py`` over the variable catalog
``VARIABLES``, ``then.message`` a template of ``message_templates.py`` (shared types in
``expression_types.py``); validating a ``RuleSpec`` checks them. ``BUILTIN_RULES`` are the example rules
a new site gets. Compiling and running rules, and what ``for_minutes``, ``cooldown_minutes``,
``rearm_when`` and ``battery`` mean, is in ``rules.py``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from luna_iems.decisions.expression_types import MAX_BATTERY_ID_CHARS, Kind, RuleError, Variable
from luna_iems.decisions.expressions import compile_condition
from luna_iems.decisions.message_templates import MAX_TEMPLATE_CHARS, compile_template

MAX_MINUTES = 7 * 24 * 60.0  # a week: longer holds or cooldowns are almost certainly unit mistakes


def _variables(*items: Variable) -> Mapping[str, Variable]:
    return MappingProxyType({item.name: item for item in items})


VARIABLES: Mapping[str, Variable] = _variables(
    Variable("import_kw", "kW", "Power imported from the grid now (>= 0)."),
    Variable("export_kw", "kW", "Power exported to the grid now (>= 0)."),
    Variable("grid_kw", "kW", "Net grid power now: + import, - export."),
    Variable("consumption_kw", "kW", "Site consumption now."),
    Variable("production_kw", "kW", "On-site production (PV) now."),
    Variable("price_eur_mwh", "EUR/MWh", "Day-ahead market price of the current period."),
    Variable("price_next_h_eur_mwh", "EUR/MWh", "Mean market price over the next hour."),
    Variable("price_day_avg_eur_mwh", "EUR/MWh", "Mean market price of the current (local) day."),
    Variable(
        "soc_pct",
        "%",
        "Battery state of charge, 0-100: the mean of the site's batteries, or one battery's with "
        "soc_pct['<battery_id>'] or the rule's `battery`; missing when no battery reported in time.",
        per_battery=True,
    ),
    Variable("forecast_load_kw", "kW", "Forecast consumption for the next step."),
    Variable("forecast_pv_kw", "kW", "Forecast PV production for the next step."),
    Variable("peak_month_kw", "kW", "Highest 15-minute mean import so far this month."),
    Variable("hour", "h", "Local hour of the day, 0-23."),
    Variable("weekday", "", "Local day of the week, 0 = Monday ... 6 = Sunday."),
    Variable("is_weekend", "", "True on local Saturdays and Sundays.", Kind.BOOLEAN),
)


class Action(StrEnum):
    CHARGE_BATTERY = "charge_battery"
    DISCHARGE_BATTERY = "discharge_battery"
    HOLD_BATTERY = "hold_battery"
    SHIFT_LOAD = "shift_load"
    REDUCE_LOAD = "reduce_load"
    NOTIFY = "notify"
    RECOMMEND = "recommend"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _choice(value: object, allowed: type[StrEnum], what: str) -> object:
    """Refuse an unknown enum value with a suggestion (pydantic's own message lists no close match)."""
    if not isinstance(value, str) or value in allowed.__members__.values():
        return value
    options = [member.value for member in allowed]
    detail = f"unknown {what} '{value}'"
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    if close:
        detail += f" (did you mean '{close[0]}'?)"
    raise RuleError(f"{detail}; allowed: {', '.join(options)}")


class RuleThen(BaseModel):
    """What a rule does when it fires: an action, its severity and a message template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action
    severity: Severity = Severity.INFO
    message: str | None = Field(
        default=None,
        description="Template with {variable} or {variable:.1f} placeholders from the variable catalog.",
        # Documented here, checked by `compile_template` (its message names the limit).
        json_schema_extra={"maxLength": MAX_TEMPLATE_CHARS},
    )

    @field_validator("action", mode="before")
    @classmethod
    def _known_action(cls, value: object) -> object:
        return _choice(value, Action, "action")

    @field_validator("severity", mode="before")
    @classmethod
    def _known_severity(cls, value: object) -> object:
        return _choice(value, Severity, "severity")

    @field_validator("message")
    @classmethod
    def _valid_template(cls, value: str | None) -> str | None:
        if value is not None:
            compile_template(value, variables=VARIABLES)
        return value


class RuleSpec(BaseModel):
    """A rule as users write it. Validating it checks the condition and the message template too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        description="Unique name: letters, digits, '-', '_', '.'; up to 64 characters.",
        # Documented here, checked by `_valid_name` (its message says how to fix the name).
        json_schema_extra={"pattern": f"^{_NAME.pattern}$", "maxLength": 64},
    )
    description: str = Field(default="", max_length=1000)
    when: str = Field(
        max_length=2000, description="Condition over the variable catalog, e.g. 'soc_pct < 20'."
    )
    then: RuleThen
    for_minutes: float = Field(strict=True, default=0.0, ge=0, le=MAX_MINUTES)
    cooldown_minutes: float = Field(strict=True, default=0.0, ge=0, le=MAX_MINUTES)
    rearm_when: str | None = Field(
        default=None,
        max_length=2000,
        description="Hysteresis: after firing, the rule stays quiet until this condition holds "
        "(e.g. 'soc_pct >= 25' for a rule 'soc_pct < 20'); empty: level-triggered with the cooldown.",
    )
    battery: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_BATTERY_ID_CHARS,
        description="A battery id of the rule's site: `soc_pct` then means this battery's state of "
        "charge instead of the site mean. Empty: the site mean (or soc_pct['<id>'] in the condition).",
    )
    enabled: StrictBool = True

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise RuleError(
                f"invalid name '{value}': use 1-64 letters, digits, '-', '_' or '.', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("when")
    @classmethod
    def _valid_condition(cls, value: str) -> str:
        compile_condition(value, variables=VARIABLES)
        return value

    @field_validator("rearm_when")
    @classmethod
    def _valid_rearm(cls, value: str | None) -> str | None:
        if value is not None:
            compile_condition(value, variables=VARIABLES)
        return value

    @field_validator("battery")
    @classmethod
    def _valid_battery(cls, value: str | None) -> str | None:
        if value is not None and ("'" in value or "\\" in value):
            raise RuleError(f"battery id {value!r} may not contain quotes or backslashes")
        return value

    @field_validator("then", mode="before")
    @classmethod
    def _action_shorthand(cls, value: object) -> object:
        # `then: notify` is short for `then: {action: notify}`.
        return {"action": value} if isinstance(value, str) else value


BUILTIN_RULES: list[dict[str, Any]] = [
    {
        "name": "self-consumption",
        "description": "Store PV surplus in the battery instead of exporting it.",
        "when": "production_kw - consumption_kw > 1 and soc_pct < 95",
        "then": {
            "action": "charge_battery",
            "severity": "info",
            "message": "PV surplus {production_kw:.1f} kW > load {consumption_kw:.1f} kW; "
            "battery at {soc_pct:.0f} %: charge it",
        },
        "for_minutes": 15,
        "cooldown_minutes": 60,
    },
    {
        "name": "cheap-charging",
        "description": "Charge the battery from the grid when power is cheap against today's average.",
        "when": "price_eur_mwh < min(30, 0.7 * price_day_avg_eur_mwh) and soc_pct < 80",
        "then": {
            "action": "charge_battery",
            "severity": "info",
            "message": "Price {price_eur_mwh:.0f} EUR/MWh (day average {price_day_avg_eur_mwh:.0f}): "
            "charge to 80 %",
        },
        "cooldown_minutes": 60,
    },
    {
        "name": "negative-price",
        "description": "Move flexible loads into hours with negative prices.",
        "when": "price_eur_mwh < 0",
        "then": {
            "action": "shift_load",
            "severity": "info",
            "message": "Negative price {price_eur_mwh:.1f} EUR/MWh: run flexible loads now",
        },
        "cooldown_minutes": 60,
    },
    {
        "name": "peak-shaving",
        "description": "Warn when grid import approaches this month's peak, which sets the demand charge.",
        "when": "peak_month_kw > 0 and import_kw >= 0.9 * peak_month_kw",
        "then": {
            "action": "reduce_load",
            "severity": "warning",
            "message": "Import {import_kw:.1f} kW is within 10 % of this month's peak "
            "{peak_month_kw:.1f} kW: reduce load or discharge the battery",
        },
        "cooldown_minutes": 15,
    },
    {
        "name": "soc-reserve",
        "description": "Keep a 20 % reserve in the battery for outages and peak shaving.",
        "when": "soc_pct < 20",
        # Hysteresis: once per discharge into the reserve. A battery at its minimum sits below 20 %
        # for hours (every night on the demo site): level-triggered, the rule fired every cooldown
        # (98-119 times in a demo week); re-armed only above 25 % it fires once per episode, and the
        # 5-point band keeps SOC noise around 20 % from re-firing it.
        "rearm_when": "soc_pct >= 25",
        "then": {
            "action": "hold_battery",
            "severity": "warning",
            "message": "Battery at {soc_pct:.0f} % is below the 20 % reserve: stop discharging",
        },
        "cooldown_minutes": 60,
    },
]

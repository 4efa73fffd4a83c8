"""Declarative rules: "when <condition> then <action>", checked once, run often.

A rule as users write it (``RuleSpec``, JSON or YAML), the variable catalog ``VARIABLES``, the actions,
severities and the example rules are in ``rule_specs.py``; conditions use the expression language of
``expressions.py`` and messages the templates of ``message_templates.py`` (shared types in
``expression_types.py``). This module compiles specs (``compile_rule``, ``parse_rule``,
``parse_rules_yaml``) and runs them: it is pure (no database, no HTTP). A scheduler keeps one
``RuleState`` per rule and calls ``step``; ``dry_run`` replays a series of contexts through the same
``step``.

Semantics, chosen to be predictable:

- A rule needs every variable it references (in ``when`` and in its message). If one is missing
  (absent, None or NaN) the rule does not fire, and the evaluation says which ("soc_pct unavailable").
  A rule never fires on partial data, even when ``or`` would make the missing part irrelevant.
- Firing is level-triggered: while the condition holds (for at least ``for_minutes``) the rule fires at
  every evaluation, at most once per ``cooldown_minutes``. An evaluation that is false, or that cannot
  be made (missing data, division by zero), restarts the ``for_minutes`` clock.
- ``for_minutes`` is measured between evaluation timestamps: with 15-minute steps and
  ``for_minutes: 15`` the rule fires at the second consecutive step on which the condition holds.
- ``rearm_when`` (hysteresis) makes a rule fire once per episode: after it fires it stays latched,
  whether or not ``when`` still holds, until an evaluation where ``rearm_when`` holds (missing data
  keeps it latched); ``cooldown_minutes`` still applies between episodes. A reserve rule
  ``when: soc_pct < 20`` with ``rearm_when: soc_pct >= 25`` fires once per discharge to the reserve,
  not every cooldown while the battery sits at its minimum, and not again for noise around 20 %.
  The latch needs no extra state: it is "``last_fired`` within the episode that began at
  ``condition_since``", and the episode ends (``condition_since`` cleared) when ``rearm_when`` holds.
- Per battery: ``soc_pct`` is the site mean; ``soc_pct['hall']`` in an expression is battery
  ``hall``'s state of charge, and a rule with ``battery: hall`` reads plain ``soc_pct`` (in ``when``,
  ``rearm_when`` and the message) as that battery's. Contexts carry one ``soc_pct['<id>']`` key per
  battery (``expression_types.battery_key``); which ids exist is the caller's check (``rule_service``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from luna_iems.decisions.expression_types import (
    EvaluationError,
    Expression,
    Kind,
    RuleError,
    Variable,
    battery_key,
    is_missing,
    split_battery_key,
)
from luna_iems.decisions.expressions import compile_condition
from luna_iems.decisions.message_templates import Template, compile_template
from luna_iems.decisions.rule_specs import VARIABLES, Action, RuleSpec, RuleThen, Severity

__all__ = [
    "CompiledRule",
    "Evaluation",
    "Firing",
    "Kind",
    "RuleError",
    "RuleState",
    "Variable",
    "battery_key",
    "compile_rule",
    "dry_run",
    "parse_rule",
    "parse_rules",
    "parse_rules_yaml",
    "step",
    "time_variables",
]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of evaluating a rule once.

    ``fired`` is True when the condition holds (``for_minutes`` and cooldown are ``step``'s business).
    ``missing`` lists referenced variables without a value; ``reason`` says why a rule could not be
    evaluated ("soc_pct unavailable", "division by zero in 'a / b'"), None when it could.
    ``message`` is the rendered message when fired. ``values`` holds the referenced variables that had
    a value.
    """

    fired: bool
    missing: tuple[str, ...]
    message: str | None
    reason: str | None = None
    values: Mapping[str, float | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule fired at ``ts``; ``values`` are the variables it referenced, as they were then."""

    rule_name: str
    ts: datetime
    action: Action
    severity: Severity
    message: str
    values: Mapping[str, float | bool]


@dataclass(frozen=True, slots=True)
class RuleState:
    """What a scheduler persists per rule between evaluations.

    ``condition_since``: when the condition started to hold without interruption (None: it does not
    hold now). ``last_fired``: the last time the rule fired (None: never).
    """

    condition_since: datetime | None = None
    last_fired: datetime | None = None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A validated rule, ready to evaluate many times. Build it with ``compile_rule`` or ``parse_rule``."""

    spec: RuleSpec
    condition: Expression
    template: Template | None
    variables: tuple[str, ...]  # referenced by the condition, then by the message
    _booleans: frozenset[str]
    rearm: Expression | None = None

    @property
    def batteries(self) -> tuple[str, ...]:
        """Battery ids the rule names (its `battery`, then soc_pct['<id>'] in its conditions)."""
        keys = [*self.variables, *(self.rearm.variables if self.rearm else ())]
        named = [self.spec.battery] if self.spec.battery else []
        named += [pair[1] for key in keys if (pair := split_battery_key(key)) is not None]
        return tuple(dict.fromkeys(named))

    def bind(self, context: Mapping[str, float | bool | None]) -> Mapping[str, float | bool | None]:
        """The context as this rule sees it: with `battery`, plain per-battery variables are that
        battery's values (None when the context has none for it)."""
        battery = self.spec.battery
        if battery is None:
            return context
        bound = dict(context)
        for variable in VARIABLES.values():
            if variable.per_battery:
                bound[variable.name] = context.get(battery_key(variable.name, battery))
        return bound

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def action(self) -> Action:
        return self.spec.then.action

    @property
    def severity(self) -> Severity:
        return self.spec.then.severity

    @property
    def enabled(self) -> bool:
        return self.spec.enabled

    def evaluate(self, context: Mapping[str, float | bool | None]) -> Evaluation:
        """Evaluate the condition against ``context`` (variable name -> value; extra keys are ignored).

        Never raises for data problems: missing variables (absent, None, NaN) and undefined arithmetic
        give ``fired=False`` with a ``reason``.
        """
        context = self.bind(context)
        values: dict[str, float | bool] = {}
        missing: list[str] = []
        for name in self.variables:
            value = context.get(name)
            if value is None or is_missing(value):
                missing.append(name)
            else:
                # Booleans may arrive as 0/1 from a database; numbers stay as given.
                values[name] = bool(value) if name in self._booleans else value
        if missing:
            return Evaluation(False, tuple(missing), None, f"{', '.join(missing)} unavailable", values)
        try:
            fired = bool(self.condition.evaluate(values))
        except EvaluationError as exc:
            return Evaluation(False, (), None, str(exc), values)
        except (ArithmeticError, ValueError, TypeError) as exc:
            reason = f"cannot evaluate '{self.condition.source}': {exc}"
            return Evaluation(False, (), None, reason, values)
        if not fired:
            return Evaluation(False, (), None, None, values)
        return Evaluation(True, (), self._message(values), None, values)

    def _message(self, values: Mapping[str, float | bool]) -> str:
        if self.template is None:
            return self.spec.description or f"{self.spec.name}: {self.spec.then.action.value}"
        try:
            return self.template.render(values)
        except (ValueError, TypeError):
            # Only reachable with values of an unexpected type (the spec was checked on numbers):
            # a rule that fires must still say something.
            return self.template.source


def compile_rule(spec: RuleSpec) -> CompiledRule:
    """Compile an already validated ``RuleSpec`` (e.g. an HTTP request body)."""
    condition = compile_condition(spec.when, variables=VARIABLES)
    template = (
        compile_template(spec.then.message, variables=VARIABLES) if spec.then.message is not None else None
    )
    referenced = dict.fromkeys(condition.variables)
    if template is not None:
        referenced.update(dict.fromkeys(template.variables))
    booleans = frozenset(name for name in referenced if _variable(name).kind is Kind.BOOLEAN)
    rearm = compile_condition(spec.rearm_when, variables=VARIABLES) if spec.rearm_when else None
    return CompiledRule(spec, condition, template, tuple(referenced), booleans, rearm)


def _variable(key: str) -> Variable:
    """The catalog entry of a context key (``soc_pct`` or ``soc_pct['hall']``)."""
    pair = split_battery_key(key)
    return VARIABLES[pair[0] if pair else key]


def _rule_error(exc: ValidationError) -> RuleError:
    """The first problem of a pydantic ValidationError as a RuleError naming its field."""
    errors = exc.errors()
    first = errors[0]
    loc = first["loc"]
    path = ".".join(str(part) for part in loc)
    original = first.get("ctx", {}).get("error")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if isinstance(original, RuleError):
        return RuleError(
            original.detail + more, field=path, expression=original.expression, position=original.position
        )
    if first["type"] == "extra_forbidden":
        key = str(loc[-1])
        model: type[BaseModel] = RuleThen if len(loc) > 1 and loc[0] == "then" else RuleSpec
        detail = f"unknown key '{key}'"
        close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.6)
        if close:
            detail += f" (did you mean '{close[0]}'?)"
        return RuleError(f"{detail}; allowed: {', '.join(model.model_fields)}{more}", field=path)
    got = "" if first["type"] == "missing" else f" (got {first['input']!r})"
    return RuleError(f"{first['msg']}{got}{more}", field=path or None)


def parse_rule(data: Mapping[str, Any]) -> CompiledRule:
    """Validate and compile one rule given as a mapping (parsed JSON or YAML).

    Raises ``RuleError`` with ``field`` set to the offending key, e.g. ``when: unknown variable
    'sco_pct' in 'sco_pct < 20' (did you mean 'soc_pct'?)`` or ``then.action: unknown action ...``.
    """
    if not isinstance(data, Mapping):
        raise RuleError(f"a rule must be a mapping with 'name', 'when' and 'then', got {type(data).__name__}")
    try:
        spec = RuleSpec.model_validate(dict(data))
    except ValidationError as exc:
        name = data.get("name")
        raise _rule_error(exc).located(rule_name=name if isinstance(name, str) else None) from None
    return compile_rule(spec)


def parse_rules(items: Sequence[Mapping[str, Any]]) -> list[CompiledRule]:
    """Parse a list of rules; names must be unique. A ``RuleError`` names the rule's index and name."""
    rules: list[CompiledRule] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, Mapping) else None
        try:
            rule = parse_rule(item)
        except RuleError as exc:
            raise exc.located(rule_index=index) from None
        if rule.name in first_index:
            raise RuleError(
                f"duplicate rule name '{rule.name}' (also rules[{first_index[rule.name]}])",
                field="name",
                rule_index=index,
                rule_name=name if isinstance(name, str) else None,
            )
        first_index[rule.name] = index
        rules.append(rule)
    return rules


def parse_rules_yaml(text: str) -> list[CompiledRule]:
    """Parse rules from YAML (or JSON, which YAML reads too): a list of rules or a single rule.

    An empty document gives no rules. Raises ``RuleError``: ``field="yaml"`` with the line and column of
    a YAML syntax error, otherwise the index and name of the first invalid rule.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleError(
            f"invalid YAML{where}: {problem}",
            field="yaml",
            position=mark.column + 1 if mark is not None else None,
        ) from None
    if document is None:
        return []
    if isinstance(document, Mapping):
        return parse_rules([document])
    if isinstance(document, list):
        return parse_rules(document)
    raise RuleError(
        f"expected a list of rules or a single rule (a mapping), got {type(document).__name__}", field="yaml"
    )


def step(
    rule: CompiledRule, state: RuleState, ts: datetime, context: Mapping[str, float | bool | None]
) -> tuple[RuleState, Firing | None]:
    """Evaluate ``rule`` at ``ts`` given its previous ``state``; return the new state and a firing, if any.

    Applies ``for_minutes`` (the condition must have held continuously since ``ts - for_minutes``) and
    ``cooldown_minutes`` (no firing within that time of the last one). A disabled rule never fires and
    its hold clock is reset. ``ts`` must be timezone-aware (raises ``ValueError`` otherwise); calls
    for one rule must come in time order.
    """
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"ts must be timezone-aware (UTC), got {ts.isoformat()}")
    if not rule.enabled:
        return RuleState(None, state.last_fired), None
    return _advance(rule, state, ts, context)


def _advance(
    rule: CompiledRule, state: RuleState, ts: datetime, context: Mapping[str, float | bool | None]
) -> tuple[RuleState, Firing | None]:
    since, last = state.condition_since, state.last_fired
    if rule.rearm is not None and since is not None and last is not None and last >= since:
        # Fired in this episode: latched until `rearm_when` holds.
        return (RuleState(None, last) if _holds(rule.rearm, rule, context) else state), None
    evaluation = rule.evaluate(context)
    if not evaluation.fired:
        return RuleState(None, state.last_fired), None
    since = since or ts
    spec = rule.spec
    if ts - since < timedelta(minutes=spec.for_minutes):
        return RuleState(since, state.last_fired), None
    if state.last_fired is not None and ts - state.last_fired < timedelta(minutes=spec.cooldown_minutes):
        return RuleState(since, state.last_fired), None
    firing = Firing(
        rule_name=spec.name,
        ts=ts,
        action=spec.then.action,
        severity=spec.then.severity,
        message=evaluation.message or "",
        values=dict(evaluation.values),
    )
    return RuleState(since, ts), firing


def _holds(expression: Expression, rule: CompiledRule, context: Mapping[str, float | bool | None]) -> bool:
    """True when `expression` can be evaluated on the rule's view of `context` and holds; missing data
    or undefined arithmetic count as "does not hold" (a latched rule stays latched without data)."""
    bound = rule.bind(context)
    values: dict[str, float | bool] = {}
    for name in expression.variables:
        value = bound.get(name)
        if value is None or is_missing(value):
            return False
        values[name] = bool(value) if _variable(name).kind is Kind.BOOLEAN else value
    try:
        return bool(expression.evaluate(values))
    except (ArithmeticError, ValueError, TypeError):
        return False


def dry_run(
    rules: Sequence[CompiledRule],
    steps: Sequence[tuple[datetime, Mapping[str, float | bool | None]]],
    *,
    include_disabled: bool = False,
) -> list[Firing]:
    """Replay ``steps`` (timestamp, context) through ``step`` for every rule, each starting from a
    fresh ``RuleState``. Steps are taken in time order (sorted, stable); firings come out in time
    order, then in the order of ``rules``. Disabled rules are skipped unless ``include_disabled``.
    Raises ``ValueError`` for a naive timestamp.
    """
    active = [rule for rule in rules if include_disabled or rule.enabled]
    states = [RuleState() for _ in active]
    firings: list[Firing] = []
    for ts, context in sorted(steps, key=lambda item: item[0]):
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError(f"ts must be timezone-aware (UTC), got {ts.isoformat()}")
        for i, rule in enumerate(active):
            states[i], firing = _advance(rule, states[i], ts, context)
            if firing is not None:
                firings.append(firing)
    return firings


def time_variables(ts: datetime, *, tz: tzinfo) -> dict[str, float | bool]:
    """``hour``, ``weekday`` and ``is_weekend`` of the aware timestamp ``ts`` in the site's time zone."""
    local = ts.astimezone(tz)
    weekday = local.weekday()
    return {"hour": local.hour, "weekday": weekday, "is_weekend": weekday >= 5}

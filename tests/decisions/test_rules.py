"""Declarative rules: the expression language, rule validation with precise errors, evaluation with
missing data, and the stateful part (for_minutes, cooldown) through `step` and `dry_run`.

Pure module: no database, no HTTP.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from luna_iems.decisions import rules
from luna_iems.decisions.expressions import compile_condition, compile_expression
from luna_iems.decisions.message_templates import MAX_MESSAGE_CHARS
from luna_iems.decisions.rule_specs import BUILTIN_RULES, VARIABLES, Action, RuleSpec, Severity
from luna_iems.decisions.rules import (
    CompiledRule,
    RuleError,
    RuleState,
    dry_run,
    parse_rule,
    parse_rules_yaml,
    step,
)

T0 = datetime(2025, 10, 6, 8, 0, tzinfo=UTC)  # a Monday


def make_rule(when: str = "soc_pct < 20", **overrides: Any) -> CompiledRule:
    data: dict[str, Any] = {"name": "r", "when": when, "then": {"action": "notify"}}
    data.update(overrides)
    return parse_rule(data)


def value_of(expression: str, **values: float | bool) -> Any:
    return compile_expression(expression, variables=VARIABLES).evaluate(values)


def rule_error(data: Mapping[str, Any]) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse_rule(data)
    return info.value


def when_error(when: str) -> RuleError:
    return rule_error({"name": "r", "when": when, "then": {"action": "notify"}})


def steps(*contexts: Mapping[str, Any], minutes: int = 15) -> list[tuple[datetime, Mapping[str, Any]]]:
    return [(T0 + timedelta(minutes=minutes * i), context) for i, context in enumerate(contexts)]


# -- expression language: evaluation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("soc_pct + 2", 12),
        ("soc_pct - 2", 8),
        ("soc_pct * 2", 20),
        ("soc_pct / 4", 2.5),
        ("-soc_pct", -10),
        ("+soc_pct", 10),
        ("2 + soc_pct * 3", 32),
        ("(2 + soc_pct) * 3", 36),
        ("soc_pct - 4 - 3", 3),  # left associative
        ("min(soc_pct, 3, 7)", 3),
        ("max(soc_pct, 30)", 30),
        ("abs(-soc_pct)", 10),
        ("round(soc_pct / 3)", 3),
        ("round(soc_pct / 3, 2)", 3.33),
        ("round(soc_pct * 13, -1)", 130),
        ("1.5e1", 15.0),
    ],
)
def test_arithmetic_and_functions(expression: str, expected: float) -> None:
    assert value_of(expression, soc_pct=10) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("soc_pct < 10", False),
        ("soc_pct <= 10", True),
        ("soc_pct > 9.5", True),
        ("soc_pct >= 10.5", False),
        ("soc_pct == 10", True),
        ("soc_pct != 10", False),
        ("5 < soc_pct < 20", True),
        ("5 < soc_pct < 8", False),
        ("12 < soc_pct < 20", False),
        ("0 <= soc_pct <= 10 < hour", True),
        ("soc_pct < hour > 12", True),  # chained: soc_pct < hour and hour > 12
        ("soc_pct < hour > 14", False),
        ("soc_pct < 20 and hour > 12", True),
        ("soc_pct < 5 and hour > 12", False),
        ("soc_pct < 5 or hour > 12", True),
        ("soc_pct < 5 or hour > 14", False),
        ("not soc_pct < 5", True),
        ("not (soc_pct < 20 and hour > 12)", False),
        ("soc_pct < 5 or hour > 14 or soc_pct == 10", True),
        ("soc_pct > 5 and hour > 5 and soc_pct < 0", False),
        ("soc_pct < 20 and not is_weekend", True),
        ("is_weekend == false", True),
        ("is_weekend != False", False),
        ("is_weekend or true", True),
        ("True and not false", True),
        ("(soc_pct < 5 or hour > 12) and min(soc_pct, hour) == 10", True),
    ],
)
def test_comparisons_and_boolean_logic(expression: str, expected: bool) -> None:
    assert value_of(expression, soc_pct=10, hour=13, is_weekend=False) is expected


def test_variables_are_listed_in_order_of_first_use() -> None:
    expression = compile_expression("price_eur_mwh < 30 and soc_pct < price_eur_mwh", variables=VARIABLES)
    assert expression.variables == ("price_eur_mwh", "soc_pct")


def test_every_catalog_variable_has_unit_text_and_is_usable() -> None:
    for name, variable in VARIABLES.items():
        assert variable.name == name
        assert variable.description
        compile_condition(f"{name} == {name}", variables=VARIABLES)
    assert {"soc_pct", "grid_kw", "price_next_h_eur_mwh", "peak_month_kw", "is_weekend"} <= set(VARIABLES)
    assert VARIABLES["price_eur_mwh"].unit == "EUR/MWh"
    assert VARIABLES["grid_kw"].unit == "kW"


def test_newlines_from_yaml_blocks_are_whitespace() -> None:
    assert value_of("soc_pct < 20\n  and hour > 12\n", soc_pct=10, hour=13) is True


# -- expression language: errors ---------------------------------------------------------------------


def test_unknown_variable_suggests_the_closest_name() -> None:
    error = when_error("sco_pct < 20")
    assert error.field == "when"
    assert error.expression == "sco_pct < 20"
    assert error.position == 1
    assert "when: unknown variable 'sco_pct' in 'sco_pct < 20' (did you mean 'soc_pct'?)" in str(error)


def test_unknown_variable_without_close_match_has_no_suggestion() -> None:
    error = when_error("temperature_c > 30")
    assert "unknown variable 'temperature_c'" in str(error)
    assert "did you mean" not in str(error)


@pytest.mark.parametrize(
    ("when", "column", "extra"),
    [
        ("price_eur_mwh <", 16, "invalid syntax"),  # incomplete: the column is the end
        ("price_eur_mwh < 30 and", 23, "invalid syntax"),
        ("soc_pct 20", 9, "invalid syntax"),
        ("soc_pct < 20 && hour > 3", 15, "use 'and' instead of '&&'"),
        ("soc_pct < 20 || hour > 3", 15, "use 'or' instead of '||'"),
        ("soc_pct = 20", 9, "invalid syntax"),
        ("min(soc_pct, 3", 4, "'(' was never closed"),
    ],
)
def test_syntax_error_names_the_column(when: str, column: int, extra: str) -> None:
    error = when_error(when)
    assert error.position == column
    assert f"when: syntax error at column {column} in '{when}'" in str(error)
    assert extra in str(error)


@pytest.mark.parametrize(
    ("when", "message", "column"),
    [
        ("__import__('os')", "'__import__' is not allowed: only abs, max, min, round can be called", 1),
        ("__import__('os').system('ls') == 0", "attribute access ('__import__('os').system')", 1),
        ("soc_pct.real > 3", "attribute access ('soc_pct.real') is not allowed in 'soc_pct.real > 3'", 1),
        ("x.y", "attribute access ('x.y') is not allowed", 1),
        ("soc_pct[0] > 3", "a subscript ('soc_pct[0]') is not allowed", 1),
        ("(lambda: 1)() > 0", "a lambda expression ('lambda: 1') is not allowed", 2),
        ("lambda: true", "a lambda expression ('lambda: true') is not allowed", 1),
        ("[s for s in soc_pct] == 1", "a comprehension ('[s for s in soc_pct]') is not allowed", 1),
        ("soc_pct == 'full'", "string literals ('full') are not allowed in a condition", 12),
        ("f'{soc_pct}' == 1", "an f-string", 1),
        ("getattr(soc_pct, 'x') > 1", "'getattr' is not allowed", 1),
        ("soc_pct(3) > 1", "'soc_pct' is a variable, not a function", 1),
        ("min < 3", "'min' is a function: call it", 1),
        ("__builtins__ == 1", "'__builtins__' is not allowed", 1),
        ("soc_pct in (10, 20)", "operator 'in' is not allowed", 1),
        ("soc_pct is 10", "operator 'is' is not allowed", 1),
        ("soc_pct ** 2 > 3", "operator '**' is not allowed in 'soc_pct ** 2 > 3' (allowed: + - * /)", 1),
        ("soc_pct % 2 == 0", "operator '%' is not allowed", 1),
        ("soc_pct < 20 & is_weekend", "operator '&' is not allowed", 11),  # & binds tighter than <
        ("~soc_pct < 3", "operator '~' is not allowed", 1),
        ("(x := 3) > 1", "an assignment (:=)", 2),
        ("(soc_pct if is_weekend else 3) > 1", "an if-else expression", 2),
        ("None == soc_pct", "the literal 'None' is not allowed", 1),
        ("min(soc_pct, key=abs) > 1", "min() takes no keyword arguments", 1),
        ("abs(soc_pct, 2) > 1", "abs() takes 1 arguments, got 2", 1),
        ("min(soc_pct) > 1", "min() takes 2 to 8 arguments, got 1", 1),
        ("round(soc_pct, 1.5) > 1", "round() needs a whole number of digits", 16),
    ],
)
def test_forbidden_constructs_are_named(when: str, message: str, column: int) -> None:
    error = when_error(when)
    assert error.field == "when"
    assert message in str(error)
    assert error.position == column


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("soc_pct", "the condition must be a comparison or boolean, got a number in 'soc_pct'"),
        ("soc_pct * 2 + 1", "the condition must be a comparison or boolean, got a number"),
        ("max(soc_pct, hour)", "got a number"),
        ("not soc_pct", "'not' needs boolean operands, got a number ('soc_pct')"),
        ("soc_pct < 20 and 3", "'and' needs boolean operands, got a number ('3')"),
        ("is_weekend or hour", "'or' needs boolean operands, got a number ('hour')"),
        ("is_weekend + 1 > 2", "'+' needs number operands, got a boolean ('is_weekend')"),
        ("is_weekend < 1", "'<' needs number operands, got a boolean ('is_weekend')"),
        ("is_weekend == 1", "'==' compares values of one kind, got a boolean and a number"),
        ("-is_weekend < 0", "unary '-' needs number operands"),
        ("abs(is_weekend) > 0", "abs() needs number operands"),
    ],
)
def test_operands_of_the_wrong_kind_are_refused(when: str, message: str) -> None:
    assert message in str(when_error(when))


def test_empty_and_overlong_conditions_are_refused() -> None:
    assert "when: the expression is empty" in str(when_error("   "))
    long = " and ".join(["soc_pct < 20"] * 100)
    assert "the limit is 1000" in str(when_error(long))


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    error = when_error("-" * 900 + "soc_pct < 3")
    assert "nested too deeply" in str(error)
    assert "syntax error" in str(when_error("(" * 300 + "soc_pct" + ")" * 300 + " < 1"))


# -- rule validation ---------------------------------------------------------------------------------


def test_example_rule_parses_with_all_fields() -> None:
    rule = parse_rule(
        {
            "name": "cheap-charging",
            "description": "Charge the battery from the grid when power is cheap",
            "when": "price_eur_mwh < 30 and soc_pct < 80",
            "then": {"action": "charge_battery", "message": "Price {price_eur_mwh:.0f}", "severity": "info"},
            "for_minutes": 15,
            "cooldown_minutes": 60,
            "enabled": True,
        }
    )
    assert rule.name == "cheap-charging"
    assert rule.action is Action.CHARGE_BATTERY
    assert rule.severity is Severity.INFO
    assert rule.spec.for_minutes == 15
    assert rule.spec.cooldown_minutes == 60
    assert rule.variables == ("price_eur_mwh", "soc_pct")


def test_defaults_and_action_shorthand() -> None:
    rule = parse_rule({"name": "low", "when": "soc_pct < 10", "then": "hold_battery"})
    assert rule.action is Action.HOLD_BATTERY
    assert rule.severity is Severity.INFO
    assert (rule.spec.for_minutes, rule.spec.cooldown_minutes, rule.enabled) == (0, 0, True)


@pytest.mark.parametrize(
    ("then", "field", "message"),
    [
        (
            {"action": "charge_batery"},
            "then.action",
            "unknown action 'charge_batery' (did you mean 'charge_battery'?); allowed: charge_battery,",
        ),
        ({"action": "explode"}, "then.action", "unknown action 'explode'; allowed:"),
        ({"action": "notify", "severity": "warn"}, "then.severity", "(did you mean 'warning'?)"),
        (
            {"action": "notify", "message": "Price {price_eur_mhw:.0f}"},
            "then.message",
            "unknown variable 'price_eur_mhw' in placeholder '{price_eur_mhw:.0f}' (did you mean 'price_eur_mwh'?)",
        ),
        (
            {"action": "notify", "message": "SOC {soc_pct:d} %"},
            "then.message",
            "format spec ':d' in '{soc_pct:d}' does not fit a number",
        ),
        (
            {"action": "notify", "message": "SOC {} %"},
            "then.message",
            "placeholder '{}' must name a variable",
        ),
        ({"action": "notify", "message": "{0}"}, "then.message", "placeholder '{0}' must name a variable"),
        ({"action": "notify", "message": "{soc_pct.real}"}, "then.message", "may only name a variable"),
        ({"action": "notify", "message": "{soc_pct[0]}"}, "then.message", "may only name a variable"),
        ({"action": "notify", "message": "{soc_pct!r}"}, "then.message", "conversions like '!r'"),
        ({"action": "notify", "message": "{soc_pct:{hour}}"}, "then.message", "nested placeholders"),
        ({"action": "notify", "message": "a { b"}, "then.message", "literal brace"),
        ({"action": "notify", "colour": "red"}, "then.colour", "unknown key 'colour'; allowed: action,"),
        ({"severity": "info"}, "then.action", "Field required"),
    ],
)
def test_then_errors_name_the_field(then: dict[str, Any], field: str, message: str) -> None:
    error = rule_error({"name": "r", "when": "soc_pct < 20", "then": then})
    assert error.field == field
    assert message in str(error)
    assert str(error).startswith(f"rule r: {field}: ")


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        ("{soc_pct:100000000}", "format width 100000000 in '{soc_pct:100000000}' is above the limit of 40"),
        ("{soc_pct:>1000000000}", "format width 1000000000"),
        ("{soc_pct:0=41.1f}", "format width 41"),
        ("{soc_pct:.11f}", "format precision 11 in '{soc_pct:.11f}' is above the limit of 10"),
        ("{soc_pct:,.99999999999999999999e}", "format precision 999999…(20 digits)"),
        ("{soc_pct:*^" + "9" * 400 + "}", "(400 digits)"),
    ],
)
def test_format_width_and_precision_are_bounded(message: str, detail: str) -> None:
    """Regression: "{soc_pct:100000000}" rendered a 100 MB string per evaluation (issue 9, item 1)."""
    error = rule_error(
        {"name": "r", "when": "soc_pct < 20", "then": {"action": "notify", "message": message}}
    )
    assert error.field == "then.message"
    assert detail in str(error)


def test_widths_and_precisions_within_the_limits_still_render() -> None:
    rule = make_rule(
        "soc_pct < 20",
        then={"action": "notify", "message": "[{soc_pct:>40.10f}] [{soc_pct:_^8}] [{soc_pct:+.3e}]"},
    )
    assert rule.evaluate({"soc_pct": 5.25}).message == (f"[{5.25:>40.10f}] [{5.25:_^8}] [{5.25:+.3e}]")


def test_rendered_message_is_cut_at_the_limit() -> None:
    message = " ".join(["{price_eur_mwh:40.10f}"] * 20)  # 20 placeholders x >300 characters at 1e300
    rule = make_rule("price_eur_mwh > 0", then={"action": "notify", "message": message})
    rendered = rule.evaluate({"price_eur_mwh": 1e300}).message
    assert rendered is not None
    assert len(rendered) == MAX_MESSAGE_CHARS and rendered.endswith("\u2026")


def test_message_placeholder_position_is_reported() -> None:
    error = rule_error(
        {"name": "r", "when": "soc_pct < 2", "then": {"action": "notify", "message": "x {prise}"}}
    )
    assert error.position == 3


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"name": "r", "when": "soc_pct < 1", "then": "notify", "cooldown_minute": 5},
            "cooldown_minute",
            "unknown key 'cooldown_minute' (did you mean 'cooldown_minutes'?)",
        ),
        (
            {"name": "r", "when": "soc_pct < 1", "then": "notify", "for_minutes": -5},
            "for_minutes",
            "(got -5)",
        ),
        (
            {"name": "r", "when": "soc_pct < 1", "then": "notify", "cooldown_minutes": 1e6},
            "cooldown_minutes",
            "",
        ),
        ({"name": "bad name", "when": "soc_pct < 1", "then": "notify"}, "name", "invalid name 'bad name'"),
        ({"name": "r", "when": 5, "then": "notify"}, "when", "valid string"),
        ({"name": "r", "then": "notify"}, "when", "Field required"),
    ],
)
def test_other_field_errors(data: dict[str, Any], field: str, message: str) -> None:
    error = rule_error(data)
    assert error.field == field
    assert message in str(error)


def test_several_problems_are_counted() -> None:
    error = rule_error({"when": "soc_pct < 1"})
    assert error.field == "name"
    assert "(and 1 more problem)" in str(error)


def test_a_rule_must_be_a_mapping() -> None:
    with pytest.raises(RuleError, match="a rule must be a mapping"):
        parse_rule(["soc_pct < 3"])  # type: ignore[arg-type]


def test_rule_spec_is_a_pydantic_model_that_validates_expressions() -> None:
    with pytest.raises(ValidationError) as info:
        RuleSpec.model_validate({"name": "r", "when": "sco_pct < 1", "then": "notify"})
    (error,) = info.value.errors()
    assert error["loc"] == ("when",)
    assert isinstance(error["ctx"]["error"], RuleError)
    assert "did you mean 'soc_pct'?" in error["msg"]
    spec = RuleSpec.model_validate({"name": "r", "when": "soc_pct < 1", "then": "notify"})
    assert rules.compile_rule(spec).evaluate({"soc_pct": 0}).fired is True
    assert "when" in RuleSpec.model_json_schema()["properties"]


# -- evaluation --------------------------------------------------------------------------------------


def test_evaluate_renders_the_message_when_fired() -> None:
    rule = make_rule(
        "price_eur_mwh < 30 and soc_pct < 80",
        then={"action": "charge_battery", "message": "Price {price_eur_mwh:.0f} EUR/MWh, SOC {soc_pct} %"},
    )
    evaluation = rule.evaluate({"price_eur_mwh": 12.4, "soc_pct": 55, "hour": 3})
    assert evaluation.fired is True
    assert evaluation.missing == ()
    assert evaluation.reason is None
    assert evaluation.message == "Price 12 EUR/MWh, SOC 55 %"
    assert evaluation.values == {"price_eur_mwh": 12.4, "soc_pct": 55}


def test_evaluate_not_fired() -> None:
    evaluation = make_rule("soc_pct < 20").evaluate({"soc_pct": 50})
    assert (evaluation.fired, evaluation.missing, evaluation.message, evaluation.reason) == (
        False,
        (),
        None,
        None,
    )


def test_default_message_is_the_description_or_name_and_action() -> None:
    assert make_rule(description="Battery low").evaluate({"soc_pct": 1}).message == "Battery low"
    assert make_rule().evaluate({"soc_pct": 1}).message == "r: notify"


@pytest.mark.parametrize(
    "context",
    [
        {"price_eur_mwh": 10},
        {"price_eur_mwh": 10, "soc_pct": None},
        {"price_eur_mwh": 10, "soc_pct": math.nan},
    ],
)
def test_missing_variable_means_not_fired_with_reason(context: dict[str, Any]) -> None:
    evaluation = make_rule("price_eur_mwh < 30 and soc_pct < 80").evaluate(context)
    assert evaluation.fired is False
    assert evaluation.missing == ("soc_pct",)
    assert evaluation.reason == "soc_pct unavailable"


def test_missing_data_never_fires_even_through_or() -> None:
    evaluation = make_rule("price_eur_mwh < 0 or soc_pct < 20").evaluate({"price_eur_mwh": -5})
    assert evaluation.fired is False
    assert evaluation.reason == "soc_pct unavailable"


def test_variables_of_the_message_are_required_too() -> None:
    rule = make_rule("price_eur_mwh < 0", then={"action": "notify", "message": "SOC {soc_pct:.0f} %"})
    assert rule.variables == ("price_eur_mwh", "soc_pct")
    evaluation = rule.evaluate({"price_eur_mwh": -1})
    assert evaluation.missing == ("soc_pct",)
    evaluation = rule.evaluate({})
    assert evaluation.reason == "price_eur_mwh, soc_pct unavailable"


def test_division_by_zero_is_not_fired_with_reason() -> None:
    evaluation = make_rule("import_kw / peak_month_kw > 0.9").evaluate({"import_kw": 5, "peak_month_kw": 0})
    assert evaluation.fired is False
    assert evaluation.missing == ()
    assert evaluation.reason == "division by zero in 'import_kw / peak_month_kw'"


def test_undefined_arithmetic_is_not_fired_with_reason() -> None:
    evaluation = make_rule("round(price_eur_mwh) > 1").evaluate({"price_eur_mwh": math.inf})
    assert evaluation.fired is False
    assert evaluation.reason is not None
    assert evaluation.reason.startswith("cannot evaluate 'round(price_eur_mwh) > 1'")


def test_boolean_variables_accept_zero_and_one() -> None:
    rule = make_rule("is_weekend and hour >= 10")
    assert rule.evaluate({"is_weekend": 1, "hour": 11}).fired is True
    assert rule.evaluate({"is_weekend": 0, "hour": 11}).fired is False
    assert rule.evaluate({"is_weekend": 1, "hour": 11}).values["is_weekend"] is True


# -- state: step and dry_run -------------------------------------------------------------------------


def test_without_hold_or_cooldown_a_rule_fires_at_every_step_while_true() -> None:
    firings = dry_run([make_rule()], steps({"soc_pct": 10}, {"soc_pct": 15}, {"soc_pct": 30}, {"soc_pct": 5}))
    assert [f.ts for f in firings] == [T0, T0 + timedelta(minutes=15), T0 + timedelta(minutes=45)]
    first = firings[0]
    assert (first.rule_name, first.action, first.severity, first.message) == (
        "r",
        Action.NOTIFY,
        Severity.INFO,
        "r: notify",
    )
    assert first.values == {"soc_pct": 10}


def test_for_minutes_needs_the_condition_to_hold_continuously() -> None:
    rule = make_rule(for_minutes=30)
    low, high = {"soc_pct": 10}, {"soc_pct": 50}
    # true at 0, 15, 30 -> held 30 min at 30; broken at 45; true again from 60 -> fires at 90.
    firings = dry_run([rule], steps(low, low, low, high, low, low, low))
    assert [f.ts - T0 for f in firings] == [timedelta(minutes=30), timedelta(minutes=90)]


def test_missing_data_restarts_the_hold() -> None:
    rule = make_rule(for_minutes=15)
    firings = dry_run([rule], steps({"soc_pct": 10}, {"soc_pct": None}, {"soc_pct": 10}, {"soc_pct": 10}))
    assert [f.ts - T0 for f in firings] == [timedelta(minutes=45)]


def test_cooldown_suppresses_firings_within_its_window() -> None:
    rule = make_rule(cooldown_minutes=60)
    low = {"soc_pct": 10}
    firings = dry_run([rule], steps(*[low] * 10))  # 0 .. 135 min
    assert [f.ts - T0 for f in firings] == [
        timedelta(minutes=0),
        timedelta(minutes=60),
        timedelta(minutes=120),
    ]


def test_cooldown_holds_across_a_condition_that_went_false() -> None:
    rule = make_rule(cooldown_minutes=60)
    low, high = {"soc_pct": 10}, {"soc_pct": 50}
    firings = dry_run([rule], steps(low, high, low, low, low, low))
    assert [f.ts - T0 for f in firings] == [timedelta(minutes=0), timedelta(minutes=60)]


def test_for_minutes_and_cooldown_together() -> None:
    rule = make_rule(for_minutes=15, cooldown_minutes=30)
    low = {"soc_pct": 10}
    firings = dry_run([rule], steps(*[low] * 6))  # 0 .. 75 min
    assert [f.ts - T0 for f in firings] == [
        timedelta(minutes=15),
        timedelta(minutes=45),
        timedelta(minutes=75),
    ]


def test_step_exposes_the_state_a_scheduler_persists() -> None:
    rule = make_rule(for_minutes=15, cooldown_minutes=60)
    state = RuleState()
    state, firing = step(rule, state, T0, {"soc_pct": 10})
    assert (state, firing) == (RuleState(condition_since=T0, last_fired=None), None)
    t1 = T0 + timedelta(minutes=15)
    state, firing = step(rule, state, t1, {"soc_pct": 10})
    assert firing is not None
    assert firing.ts == t1
    assert state == RuleState(condition_since=T0, last_fired=t1)
    state, firing = step(rule, state, t1 + timedelta(minutes=5), {"soc_pct": 90})
    assert (state, firing) == (RuleState(condition_since=None, last_fired=t1), None)


def test_dry_run_matches_stepping_by_hand() -> None:
    rule = make_rule(for_minutes=15, cooldown_minutes=30)
    series = steps(*({"soc_pct": 10 if i % 5 else 50} for i in range(20)))
    state, by_hand = RuleState(), []
    for ts, context in series:
        state, firing = step(rule, state, ts, context)
        if firing is not None:
            by_hand.append(firing)
    assert dry_run([rule], series) == by_hand
    assert by_hand


def test_dry_run_orders_by_time_then_rule() -> None:
    low_soc = make_rule("soc_pct < 20", name="low")
    cheap = make_rule("price_eur_mwh < 0", name="cheap", then={"action": "shift_load", "severity": "warning"})
    series = steps({"soc_pct": 10, "price_eur_mwh": -1}, {"soc_pct": 50, "price_eur_mwh": -2})
    firings = dry_run([low_soc, cheap], list(reversed(series)))  # unsorted input is sorted
    assert [(f.rule_name, f.ts - T0) for f in firings] == [
        ("low", timedelta(0)),
        ("cheap", timedelta(0)),
        ("cheap", timedelta(minutes=15)),
    ]
    assert firings[1].severity is Severity.WARNING
    assert firings[1].action is Action.SHIFT_LOAD


def test_disabled_rules_do_not_fire_unless_included() -> None:
    rule = make_rule(enabled=False)
    series = steps({"soc_pct": 10})
    assert dry_run([rule], series) == []
    assert len(dry_run([rule], series, include_disabled=True)) == 1
    state, firing = step(rule, RuleState(condition_since=T0), T0, {"soc_pct": 10})
    assert (state, firing) == (RuleState(), None)


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        step(make_rule(), RuleState(), datetime(2025, 1, 1), {"soc_pct": 1})
    with pytest.raises(ValueError, match="timezone-aware"):
        dry_run([make_rule()], [(datetime(2025, 1, 1), {"soc_pct": 1})])


def test_time_variables_are_local() -> None:
    saturday_late_utc = datetime(2025, 10, 4, 23, 30, tzinfo=UTC)  # Sunday 01:30 in Berlin (CEST)
    assert rules.time_variables(saturday_late_utc, tz=ZoneInfo("Europe/Berlin")) == {
        "hour": 1,
        "weekday": 6,
        "is_weekend": True,
    }


# -- YAML and lists ----------------------------------------------------------------------------------

YAML_RULES = """
- name: cheap-charging
  description: Charge the battery from the grid when power is cheap
  when: "price_eur_mwh < 30 and soc_pct < 80"
  then: {action: charge_battery, message: "Price {price_eur_mwh:.0f} EUR/MWh: charge to 80 %", severity: info}
  for_minutes: 15        # condition must hold this long before firing
  cooldown_minutes: 60
  enabled: true
- name: weekend-peak
  when: >
    is_weekend
    and import_kw > 0.9 * peak_month_kw
  then:
    action: reduce_load
    severity: warning
"""


def test_yaml_list_parses() -> None:
    parsed = parse_rules_yaml(YAML_RULES)
    assert [r.name for r in parsed] == ["cheap-charging", "weekend-peak"]
    assert parsed[0].spec.for_minutes == 15
    assert parsed[1].severity is Severity.WARNING
    assert parsed[1].evaluate({"is_weekend": True, "import_kw": 95, "peak_month_kw": 100}).fired is True


def test_yaml_single_mapping_json_and_empty_document() -> None:
    assert [r.name for r in parse_rules_yaml("name: one\nwhen: soc_pct < 5\nthen: notify\n")] == ["one"]
    as_json = json.dumps([{"name": "j", "when": "hour >= 22 or hour < 6", "then": {"action": "recommend"}}])
    assert parse_rules_yaml(as_json)[0].action is Action.RECOMMEND
    assert parse_rules_yaml("") == []
    assert parse_rules_yaml("# nothing yet\n") == []


def test_yaml_error_names_the_rule_index_and_name() -> None:
    text = YAML_RULES + "- name: typo\n  when: sco_pct < 10\n  then: notify\n"
    with pytest.raises(RuleError) as info:
        parse_rules_yaml(text)
    error = info.value
    assert (error.rule_index, error.rule_name, error.field) == (2, "typo", "when")
    assert str(error) == (
        "rules[2] (typo): when: unknown variable 'sco_pct' in 'sco_pct < 10' (did you mean 'soc_pct'?)"
    )


def test_yaml_error_for_a_nameless_or_non_mapping_rule_names_the_index() -> None:
    with pytest.raises(RuleError, match=r"^rules\[1\]: name: Field required \(and 1 more problem\)$"):
        parse_rules_yaml(
            "- {name: a, when: soc_pct < 1, then: notify}\n- {when: soc_pct < 1, then: charge}\n"
        )
    with pytest.raises(RuleError, match=r"^rules\[0\]: a rule must be a mapping"):
        parse_rules_yaml("- soc_pct < 3\n")


def test_yaml_duplicate_names_are_refused() -> None:
    text = "- {name: a, when: soc_pct < 1, then: notify}\n- {name: a, when: soc_pct < 2, then: notify}\n"
    with pytest.raises(
        RuleError, match=r"rules\[1\] \(a\): name: duplicate rule name 'a' \(also rules\[0\]\)"
    ):
        parse_rules_yaml(text)


def test_yaml_syntax_error_names_line_and_column() -> None:
    with pytest.raises(RuleError) as info:
        parse_rules_yaml("- name: a\n  when: [soc_pct < 3\n")
    assert info.value.field == "yaml"
    assert "invalid YAML at line 3, column 1" in str(info.value)
    with pytest.raises(RuleError, match="expected a list of rules or a single rule"):
        parse_rules_yaml("42")


# -- built-in rules ----------------------------------------------------------------------------------


def test_builtin_rules_all_parse_with_unique_names() -> None:
    parsed = rules.parse_rules(BUILTIN_RULES)
    assert {r.name for r in parsed} >= {"self-consumption", "cheap-charging", "peak-shaving", "soc-reserve"}


@pytest.mark.parametrize(
    ("name", "fires", "quiet", "action"),
    [
        (
            "self-consumption",
            {"production_kw": 8, "consumption_kw": 3, "soc_pct": 50},
            {"production_kw": 3, "consumption_kw": 3, "soc_pct": 50},
            Action.CHARGE_BATTERY,
        ),
        (
            "cheap-charging",
            {"price_eur_mwh": 20, "price_day_avg_eur_mwh": 90, "soc_pct": 40},
            {"price_eur_mwh": 20, "price_day_avg_eur_mwh": 25, "soc_pct": 40},
            Action.CHARGE_BATTERY,
        ),
        ("negative-price", {"price_eur_mwh": -3}, {"price_eur_mwh": 3}, Action.SHIFT_LOAD),
        (
            "peak-shaving",
            {"import_kw": 95, "peak_month_kw": 100},
            {"import_kw": 50, "peak_month_kw": 100},
            Action.REDUCE_LOAD,
        ),
        ("soc-reserve", {"soc_pct": 12}, {"soc_pct": 60}, Action.HOLD_BATTERY),
    ],
)
def test_builtin_rules_fire_on_plausible_data(
    name: str, fires: dict[str, float], quiet: dict[str, float], action: Action
) -> None:
    (data,) = [r for r in BUILTIN_RULES if r["name"] == name]
    rule = parse_rule(data)
    evaluation = rule.evaluate(fires)
    assert evaluation.fired is True
    assert evaluation.message
    assert "{" not in evaluation.message
    assert rule.evaluate(quiet).fired is False
    assert rule.action is action


def test_builtin_soc_rules_stay_quiet_without_a_battery() -> None:
    with_soc = [parse_rule(data) for data in BUILTIN_RULES if "soc_pct" in data["when"]]
    assert len(with_soc) >= 2
    for rule in with_soc:
        everything_but_soc = {name: 1.0 for name in rule.variables if name != "soc_pct"}
        evaluation = rule.evaluate(everything_but_soc)
        assert (evaluation.fired, evaluation.missing, evaluation.reason) == (
            False,
            ("soc_pct",),
            "soc_pct unavailable",
        )

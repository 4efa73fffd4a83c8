"""The vocabulary shared by rule conditions and message templates.

Holds the static ``Kind`` of a value, the ``Variable`` of a catalog (with the per-battery keys
``soc_pct['hall']``), ``RuleError`` (what every check of a rule raises), the compiled ``Expression``
with its run-time ``EvaluationError``, and ``is_missing`` (None and NaN mean "no data").

The condition language and its compiler are in ``expressions.py``, message templates in
``message_templates.py``; both build on this module, and ``rules.py`` / ``rule_specs.py`` on all three.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Values = Mapping[str, Any]


class Kind(StrEnum):
    """The static type of a variable or sub-expression."""

    NUMBER = "number"
    BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class Variable:
    """A variable that conditions and message templates may reference."""

    name: str
    unit: str
    description: str
    kind: Kind = Kind.NUMBER
    per_battery: bool = False  # may be indexed by a battery id: soc_pct['hall']


MAX_BATTERY_ID_CHARS = 100  # battery_states.battery_id
_BATTERY_KEY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\['(?P<battery>[^']+)'\]")


def battery_key(name: str, battery_id: str) -> str:
    """The context key of a per-battery variable: ``soc_pct['hall']`` (as written in a condition)."""
    return f"{name}['{battery_id}']"


def split_battery_key(key: str) -> tuple[str, str] | None:
    """(variable, battery id) of a key made by ``battery_key``; None for a plain variable name."""
    match = _BATTERY_KEY.fullmatch(key)
    return (match.group("name"), match.group("battery")) if match else None


class RuleError(ValueError):
    """A rule (or one of its expressions) is invalid.

    ``field`` is the path of the offending key (``"when"``, ``"then.message"``), ``expression`` the text
    that failed, ``position`` a 1-based column in it when known, ``rule_index`` / ``rule_name`` say which
    rule of a list. ``detail`` is the message without that context; ``str(error)`` has all of it.
    """

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        expression: str | None = None,
        position: int | None = None,
        rule_index: int | None = None,
        rule_name: str | None = None,
    ) -> None:
        self.detail = detail
        self.field = field
        self.expression = expression
        self.position = position
        self.rule_index = rule_index
        self.rule_name = rule_name
        super().__init__(self._render())

    def _render(self) -> str:
        prefix = ""
        if self.rule_index is not None:
            prefix = f"rules[{self.rule_index}]"
            if self.rule_name:
                prefix += f" ({self.rule_name})"
            prefix += ": "
        elif self.rule_name:
            prefix = f"rule {self.rule_name}: "
        if self.field:
            prefix += f"{self.field}: "
        return prefix + self.detail

    def __str__(self) -> str:
        return self._render()

    def located(
        self,
        *,
        field: str | None = None,
        rule_index: int | None = None,
        rule_name: str | None = None,
    ) -> RuleError:
        """A copy with more context; values already set are kept unless a new one is given."""
        return RuleError(
            self.detail,
            field=field if field is not None else self.field,
            expression=self.expression,
            position=self.position,
            rule_index=rule_index if rule_index is not None else self.rule_index,
            rule_name=rule_name if rule_name is not None else self.rule_name,
        )


class EvaluationError(ArithmeticError):
    """Raised by a compiled expression when a value makes it undefined (e.g. division by zero)."""


@dataclass(frozen=True, slots=True)
class Expression:
    """A validated, compiled expression. Call ``evaluate`` with every name in ``variables`` present."""

    source: str
    kind: Kind
    variables: tuple[str, ...]  # in order of first appearance
    _fn: Callable[[Values], Any]

    def evaluate(self, values: Values) -> Any:
        """Evaluate against ``values`` (must hold every referenced variable, not None/NaN).

        Raises ``EvaluationError`` (division by zero), and possibly ``ArithmeticError`` / ``ValueError``
        from ``round`` on infinities or NaN; callers report them as "not fired" rather than crash.
        """
        return self._fn(values)


def is_missing(value: object) -> bool:
    """True for None and NaN: both mean "no data" for a rule."""
    return value is None or (isinstance(value, float) and math.isnan(value))

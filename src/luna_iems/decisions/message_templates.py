"""Message templates of rules: ``str.format`` strings whose fields are catalog variables.

A field may carry a format spec: ``"Price {price_eur_mwh:.0f} EUR/MWh"``. ``compile_template`` checks
every field against the catalog and every spec against a sample value of the variable's kind (and
against width and precision limits) once; ``Template.render`` then fills it at every firing.

The shared types (``Variable``, ``Kind``, ``RuleError``) are in ``expression_types.py``; the condition
language is in ``expressions.py``.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from luna_iems.decisions.expression_types import Kind, RuleError, Values, Variable

MAX_TEMPLATE_CHARS = 500
# A format spec's width and precision are bounded: "{soc_pct:100000000}" would otherwise build a
# 100 MB string per evaluation (a viewer could exhaust the server's memory with one request).
MAX_FORMAT_WIDTH = 40
MAX_FORMAT_PRECISION = 10
# The rendered message is bounded too: a huge value with a fixed-point spec ("{x:.10f}" of 1e300)
# is still ~300 characters per placeholder.
MAX_MESSAGE_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Template:
    """A validated message template; ``render`` fills it from a mapping of variable values."""

    source: str
    variables: tuple[str, ...]

    def render(self, values: Values) -> str:
        """Format the template (fields and specs were checked when it was compiled); the result is
        cut to ``MAX_MESSAGE_CHARS`` characters."""
        text = self.source.format_map(values)
        if len(text) > MAX_MESSAGE_CHARS:
            return text[: MAX_MESSAGE_CHARS - 1] + "\u2026"
        return text


_SAMPLES: dict[Kind, tuple[Any, ...]] = {Kind.NUMBER: (1.5, 2), Kind.BOOLEAN: (True,)}
# Python's format-spec mini-language: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_FORMAT_SPEC = re.compile(
    r"(?:(?P<fill>.)?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[_,]?(?:\.(?P<precision>\d*))?[bcdeEfFgGnosxX%]?",
    re.DOTALL,
)


def _check_format_bounds(spec: str, placeholder: str, source: str, position: int) -> None:
    """Refuse a width or precision above the limits before ``format`` ever allocates it."""
    match = _FORMAT_SPEC.fullmatch(spec)
    if match is None:
        return  # not bounded-width syntax at all: ``format`` refuses it with the usual message
    for name, limit in (("width", MAX_FORMAT_WIDTH), ("precision", MAX_FORMAT_PRECISION)):
        digits = match.group(name) or ""
        # Compare the digit count first: int() of a million digits is slow in itself.
        if len(digits) > len(str(limit)) or (digits and int(digits) > limit):
            shown = digits if len(digits) <= 12 else f"{digits[:6]}…({len(digits)} digits)"
            raise RuleError(
                f"format {name} {shown} in '{placeholder[:60]}' is above the limit of {limit}",
                expression=source,
                position=position,
            )


def compile_template(source: str, *, variables: Mapping[str, Variable]) -> Template:
    """Check a message template: every ``{field}`` is a catalog variable, every format spec fits it.

    Raises ``RuleError`` naming the bad placeholder (``unknown variable 'prise' in placeholder
    '{prise}'``), an unbalanced brace, a positional ``{}``, or a spec like ``{soc_pct:d}`` that would
    fail on a fractional value.
    """
    if len(source) > MAX_TEMPLATE_CHARS:
        raise RuleError(f"the message is {len(source)} characters long; the limit is {MAX_TEMPLATE_CHARS}")
    try:
        parts = list(string.Formatter().parse(source))
    except ValueError as exc:
        raise RuleError(
            f"{exc} in '{source}' (write '{{{{' or '}}}}' for a literal brace)", expression=source
        ) from None
    seen: dict[str, None] = {}
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        placeholder = (
            "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        )
        position = source.find("{" + field)
        if not field.isidentifier():
            detail = (
                f"placeholder '{placeholder}' must name a variable, e.g. '{{soc_pct:.0f}}'"
                if not field or field.isdigit()
                else f"placeholder '{placeholder}' may only name a variable (no '.' or '[')"
            )
            raise RuleError(detail, expression=source, position=position + 1)
        variable = variables.get(field)
        if variable is None:
            detail = f"unknown variable '{field}' in placeholder '{placeholder}'"
            close = difflib.get_close_matches(field, list(variables), n=1, cutoff=0.6)
            if close:
                detail += f" (did you mean '{close[0]}'?)"
            raise RuleError(detail, expression=source, position=position + 1)
        if conversion is not None:
            raise RuleError(
                f"conversions like '!{conversion}' are not allowed in '{placeholder}'", expression=source
            )
        if spec and ("{" in spec or "}" in spec):
            raise RuleError(f"nested placeholders are not allowed in '{placeholder}'", expression=source)
        _check_format_bounds(spec or "", placeholder, source, position + 1)
        for sample in _SAMPLES[variable.kind]:
            try:
                format(sample, spec or "")
            except ValueError:
                raise RuleError(
                    f"format spec ':{spec}' in '{placeholder}' does not fit a {variable.kind.value} "
                    "(e.g. use ':.1f')",
                    expression=source,
                    position=position + 1,
                ) from None
        seen.setdefault(field, None)
    return Template(source, tuple(seen))

"""A small, safe expression language for rule conditions: ``compile_expression`` / ``compile_condition``.

Conditions are Python-like: comparisons (chained: ``10 <= soc_pct < 80``), ``and`` / ``or`` / ``not``,
``+ - * /``, parentheses, numeric literals, ``true`` / ``false`` (and ``True`` / ``False``) and the
functions ``min``, ``max``, ``abs`` and ``round``. Names must come from a variable catalog; nothing else
is accepted: no attribute access, other calls, lambdas, comprehensions or strings. The one subscript is
a per-battery variable with a quoted battery id, ``soc_pct['hall']``: it reads the context key
``battery_key("soc_pct", "hall")`` (the same text), so a context carries one key per battery.

Why our own ``ast`` whitelist rather than ``simpleeval``: simpleeval re-walks the AST at every
evaluation and is open by default (it accepts strings, subscripts and attribute access unless told
otherwise), while here a condition is checked once -- names against the catalog, types (number vs
boolean) -- and then compiled into a tree of closures. Evaluation never calls ``eval`` and can only do
what the closures do, so its safety does not depend on Python's sandboxing (there is none). The
closures also give precise reasons at run time (``division by zero in 'a / b'``).

Its shared types (``Kind``, ``Variable``, ``RuleError``, ``Expression``, ``EvaluationError``) are in
``expression_types.py``; message templates (``{price_eur_mwh:.0f}``) in ``message_templates.py``.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from luna_iems.decisions.expression_types import (
    MAX_BATTERY_ID_CHARS,
    EvaluationError,
    Expression,
    Kind,
    RuleError,
    Values,
    Variable,
    battery_key,
)

MAX_EXPRESSION_CHARS = 1000

_Fn = Callable[[Values], Any]


# -- condition compiler -----------------------------------------------------------------------------

_FUNCTIONS: dict[str, tuple[int, int]] = {"abs": (1, 1), "round": (1, 2), "min": (2, 8), "max": (2, 8)}
_BOOL_NAMES = {"true": True, "false": False}
_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "a subscript",
    ast.Slice: "a slice",
    ast.Lambda: "a lambda expression",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.IfExp: "an if-else expression",
    ast.NamedExpr: "an assignment (:=)",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Set: "a set",
    ast.Dict: "a dict",
    ast.JoinedStr: "an f-string",
    ast.Starred: "a starred argument",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_BIN_OPS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_BIN_OP_NAMES: dict[type[ast.operator], str] = {
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.Pow: "**",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
}
_CMP_OPS: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
# Hints for habits from other languages (Home Assistant templates, JavaScript, SQL).
_SYNTAX_HINTS = (("&&", "use 'and' instead of '&&'"), ("||", "use 'or' instead of '||'"))


@dataclass(frozen=True, slots=True)
class _Compiled:
    fn: _Fn
    kind: Kind


class _Compiler:
    """Checks one parsed expression against the whitelist and builds its closures in the same walk."""

    def __init__(self, source: str, catalog: Mapping[str, Variable]) -> None:
        self.source = source
        self.catalog = catalog
        self.seen: dict[str, None] = {}  # ordered set of referenced variables

    # errors ---------------------------------------------------------------------------------------

    def _column(self, node: ast.AST) -> int | None:
        offset = getattr(node, "col_offset", None)
        if offset is None:
            return None
        # ast offsets count UTF-8 bytes; users count characters.
        return len(self.source.encode()[:offset].decode(errors="ignore")) + 1

    def _snippet(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or self.source

    def fail(self, node: ast.AST, detail: str) -> RuleError:
        return RuleError(detail, expression=self.source, position=self._column(node))

    def _kind_error(self, node: ast.AST, what: str, want: Kind, got: Kind) -> RuleError:
        return self.fail(
            node, f"{what} needs {want.value} operands, got a {got.value} ('{self._snippet(node)}')"
        )

    # walk -----------------------------------------------------------------------------------------

    def compile(self, node: ast.AST) -> _Compiled:
        # Dispatch on exact node types: anything not listed is refused, so new Python syntax is
        # refused by default.
        handler = self._HANDLERS.get(type(node))
        if handler is not None:
            return handler(self, node)
        what = _FORBIDDEN.get(type(node))
        snippet = self._snippet(node)
        if what is not None:
            raise self.fail(node, f"{what} ('{snippet}') is not allowed in '{self.source}'")
        raise self.fail(node, f"'{snippet}' is not allowed in '{self.source}'")

    def _constant(self, node: ast.AST) -> _Compiled:
        assert isinstance(node, ast.Constant)
        value = node.value
        if isinstance(value, bool):
            return _Compiled(_constant_fn(value), Kind.BOOLEAN)
        if isinstance(value, int | float):
            return _Compiled(_constant_fn(value), Kind.NUMBER)
        if isinstance(value, str | bytes):
            raise self.fail(
                node,
                f"string literals ({self._snippet(node)}) are not allowed in a condition: "
                "compare numbers or booleans",
            )
        raise self.fail(node, f"the literal '{self._snippet(node)}' is not allowed: use numbers")

    def _name(self, node: ast.AST) -> _Compiled:
        assert isinstance(node, ast.Name)
        name = node.id
        if name in _BOOL_NAMES:
            return _Compiled(_constant_fn(_BOOL_NAMES[name]), Kind.BOOLEAN)
        variable = self.catalog.get(name)
        if variable is not None:
            self.seen.setdefault(name, None)
            return _Compiled(lambda v: v[name], variable.kind)
        if name in _FUNCTIONS:
            raise self.fail(node, f"'{name}' is a function: call it, e.g. {name}(a, b)")
        if name.startswith("__"):
            raise self.fail(node, f"'{name}' is not allowed")
        detail = f"unknown variable '{name}' in '{self.source}'"
        close = difflib.get_close_matches(name, list(self.catalog), n=1, cutoff=0.6)
        if close:
            detail += f" (did you mean '{close[0]}'?)"
        raise self.fail(node, detail)

    def _subscript(self, node: ast.AST) -> _Compiled:
        """``soc_pct['hall']``: a per-battery variable of one battery (its id a quoted string)."""
        assert isinstance(node, ast.Subscript)
        base, index = node.value, node.slice
        variable = self.catalog.get(base.id) if isinstance(base, ast.Name) else None
        if variable is None or not variable.per_battery:
            indexable = [v.name for v in self.catalog.values() if v.per_battery]
            allowed = f"only {', '.join(indexable)} can be" if indexable else "no variable can be"
            raise self.fail(
                node,
                f"a subscript ('{self._snippet(node)}') is not allowed in '{self.source}': {allowed} "
                "indexed by a battery id, e.g. soc_pct['hall']",
            )
        if not (isinstance(index, ast.Constant) and isinstance(index.value, str)):
            raise self.fail(
                node,
                f"a subscript ('{self._snippet(node)}') is not allowed in '{self.source}' unless it names "
                f"a battery by a quoted id, e.g. {variable.name}['hall']",
            )
        battery = index.value
        if not 1 <= len(battery) <= MAX_BATTERY_ID_CHARS or "'" in battery or "\\" in battery:
            raise self.fail(
                index,
                f"battery id {battery!r} in '{self._snippet(node)}': use 1 to {MAX_BATTERY_ID_CHARS} "
                "characters without quotes or backslashes",
            )
        key = battery_key(variable.name, battery)
        self.seen.setdefault(key, None)
        return _Compiled(lambda v: v[key], variable.kind)

    def _bool_op(self, node: ast.AST) -> _Compiled:
        assert isinstance(node, ast.BoolOp)
        word = "and" if isinstance(node.op, ast.And) else "or"
        fns: list[_Fn] = []
        for operand in node.values:
            part = self.compile(operand)
            if part.kind is not Kind.BOOLEAN:
                raise self._kind_error(operand, f"'{word}'", Kind.BOOLEAN, part.kind)
            fns.append(part.fn)
        if len(fns) == 2:  # the common case, without a generator per evaluation
            a, b = fns
            if isinstance(node.op, ast.And):
                return _Compiled(lambda v: a(v) and b(v), Kind.BOOLEAN)
            return _Compiled(lambda v: a(v) or b(v), Kind.BOOLEAN)
        if isinstance(node.op, ast.And):
            return _Compiled(lambda v: all(f(v) for f in fns), Kind.BOOLEAN)
        return _Compiled(lambda v: any(f(v) for f in fns), Kind.BOOLEAN)

    def _unary(self, node: ast.AST) -> _Compiled:
        assert isinstance(node, ast.UnaryOp)
        operand = self.compile(node.operand)
        fn = operand.fn
        if isinstance(node.op, ast.Not):
            if operand.kind is not Kind.BOOLEAN:
                raise self._kind_error(node.operand, "'not'", Kind.BOOLEAN, operand.kind)
            return _Compiled(lambda v: not fn(v), Kind.BOOLEAN)
        if isinstance(node.op, ast.USub | ast.UAdd):
            if operand.kind is not Kind.NUMBER:
                raise self._kind_error(node.operand, "unary '-'", Kind.NUMBER, operand.kind)
            if isinstance(node.op, ast.UAdd):
                return operand
            return _Compiled(lambda v: -fn(v), Kind.NUMBER)
        raise self.fail(node, f"operator '~' is not allowed in '{self.source}'")

    def _bin_op(self, node: ast.AST) -> _Compiled:
        assert isinstance(node, ast.BinOp)
        symbol = _BIN_OPS.get(type(node.op))
        if symbol is None:
            other = _BIN_OP_NAMES.get(type(node.op), "?")
            hint = {"&": "use 'and'", "|": "use 'or'"}.get(other, "allowed: + - * /")
            raise self.fail(node, f"operator '{other}' is not allowed in '{self.source}' ({hint})")
        left, right = self.compile(node.left), self.compile(node.right)
        for side, part in ((node.left, left), (node.right, right)):
            if part.kind is not Kind.NUMBER:
                raise self._kind_error(side, f"'{symbol}'", Kind.NUMBER, part.kind)
        a, b = left.fn, right.fn
        if isinstance(node.op, ast.Add):
            return _Compiled(lambda v: a(v) + b(v), Kind.NUMBER)
        if isinstance(node.op, ast.Sub):
            return _Compiled(lambda v: a(v) - b(v), Kind.NUMBER)
        if isinstance(node.op, ast.Mult):
            return _Compiled(lambda v: a(v) * b(v), Kind.NUMBER)
        snippet = self._snippet(node)

        def divide(v: Values) -> Any:
            denominator = b(v)
            if denominator == 0:
                raise EvaluationError(f"division by zero in '{snippet}'")
            return a(v) / denominator

        return _Compiled(divide, Kind.NUMBER)

    def _compare(self, node: ast.AST) -> _Compiled:
        assert isinstance(node, ast.Compare)
        for op in node.ops:  # before the operands: `x in (1, 2)` is about 'in', not the tuple
            if type(op) not in _CMP_OPS:
                word = {ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}[type(op)]
                raise self.fail(node, f"operator '{word}' is not allowed in '{self.source}'")
        operands = [node.left, *node.comparators]
        parts = [self.compile(operand) for operand in operands]
        checks: list[Callable[[Any, Any], bool]] = []
        for i, op in enumerate(node.ops):
            symbol = _CMP_OPS[type(op)]
            left, right = parts[i], parts[i + 1]
            if symbol in ("==", "!="):
                if left.kind is not right.kind:
                    raise self.fail(
                        node,
                        f"'{symbol}' compares values of one kind, got a {left.kind.value} and a "
                        f"{right.kind.value} in '{self._snippet(node)}'",
                    )
            else:
                for operand, part in ((operands[i], left), (operands[i + 1], right)):
                    if part.kind is not Kind.NUMBER:
                        raise self._kind_error(operand, f"'{symbol}'", Kind.NUMBER, part.kind)
            checks.append(_COMPARATORS[symbol])
        fns = [part.fn for part in parts]
        if len(checks) == 1:
            check, a, b = checks[0], fns[0], fns[1]
            return _Compiled(lambda v: check(a(v), b(v)), Kind.BOOLEAN)

        def chained(v: Values) -> bool:
            # Like Python: a < b < c is a < b and b < c, each operand evaluated once, left to right.
            left = fns[0](v)
            for check, fn in zip(checks, fns[1:], strict=True):
                right = fn(v)
                if not check(left, right):
                    return False
                left = right
            return True

        return _Compiled(chained, Kind.BOOLEAN)

    def _call(self, node: ast.AST) -> _Compiled:
        assert isinstance(node, ast.Call)
        name = self._check_call(node)
        if name == "round" and len(node.args) == 2:
            return self._round_digits(node)
        args = [self.compile(arg) for arg in node.args]
        for arg, part in zip(node.args, args, strict=True):
            if part.kind is not Kind.NUMBER:
                raise self._kind_error(arg, f"{name}()", Kind.NUMBER, part.kind)
        fns = [part.fn for part in args]
        if name in ("abs", "round"):
            single = fns[0]
            unary: Callable[[Any], Any] = abs if name == "abs" else round
            return _Compiled(lambda v: unary(single(v)), Kind.NUMBER)
        pick: Callable[..., Any] = min if name == "min" else max
        return _Compiled(lambda v: pick(*[f(v) for f in fns]), Kind.NUMBER)

    def _check_call(self, node: ast.Call) -> str:
        """The name of a whitelisted function called with a valid number of plain arguments."""
        func = node.func
        if not isinstance(func, ast.Name):
            # `(lambda: 1)()`, `x.y()`: report the lambda or attribute itself when it is the problem.
            self.compile(func)
            raise self.fail(
                node, f"calling '{self._snippet(func)}' is not allowed: only {_function_list()} can be called"
            )
        name = func.id
        if name not in _FUNCTIONS:
            if name in self.catalog:
                raise self.fail(node, f"'{name}' is a variable, not a function")
            raise self.fail(node, f"'{name}' is not allowed: only {_function_list()} can be called")
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments in '{self._snippet(node)}'")
        low, high = _FUNCTIONS[name]
        if not low <= len(node.args) <= high:
            count = f"{low}" if low == high else f"{low} to {high}"
            raise self.fail(
                node, f"{name}() takes {count} arguments, got {len(node.args)} in '{self._snippet(node)}'"
            )
        return name

    def _round_digits(self, node: ast.Call) -> _Compiled:
        value = self.compile(node.args[0])
        if value.kind is not Kind.NUMBER:
            raise self._kind_error(node.args[0], "round()", Kind.NUMBER, value.kind)
        digits_node = node.args[1]
        # round(x, 1.5) is a TypeError in Python: accept integer literals only (sign allowed).
        sign = 1
        if isinstance(digits_node, ast.UnaryOp) and isinstance(digits_node.op, ast.USub):
            sign, digits_node = -1, digits_node.operand
        if not (
            isinstance(digits_node, ast.Constant)
            and isinstance(digits_node.value, int)
            and not isinstance(digits_node.value, bool)
        ):
            raise self.fail(
                node.args[1], f"round() needs a whole number of digits, e.g. round(x, 1), in '{self.source}'"
            )
        digits, fn = sign * digits_node.value, value.fn
        return _Compiled(lambda v: round(fn(v), digits), Kind.NUMBER)

    _HANDLERS: dict[type[ast.AST], Callable[[_Compiler, ast.AST], _Compiled]] = {
        ast.Constant: _constant,
        ast.Name: _name,
        ast.Subscript: _subscript,
        ast.BoolOp: _bool_op,
        ast.UnaryOp: _unary,
        ast.BinOp: _bin_op,
        ast.Compare: _compare,
        ast.Call: _call,
    }


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _constant_fn(value: Any) -> _Fn:
    return lambda _values: value


def _function_list() -> str:
    return ", ".join(sorted(_FUNCTIONS))


def _normalise(source: str) -> str:
    # YAML folded or literal blocks bring newlines; the expression is one logical line. Replacing
    # them one-for-one keeps columns meaningful.
    return source.replace("\r", " ").replace("\n", " ").replace("\t", " ").strip()


def _parse(source: str) -> ast.expr:
    try:
        # The trailing newline makes CPython report the column of an incomplete expression
        # ("price_eur_mwh <") instead of 0.
        tree = ast.parse(source + "\n", mode="eval")
    except SyntaxError as exc:
        column = exc.offset if exc.offset and exc.offset > 0 else len(source) + 1
        column = min(column, len(source) + 1)
        reason = exc.msg
        for token, hint in _SYNTAX_HINTS:
            if token in source:
                reason += f"; {hint}"
        raise RuleError(
            f"syntax error at column {column} in '{source}': {reason}", expression=source, position=column
        ) from None
    except (RecursionError, MemoryError):
        raise RuleError(
            f"the expression is nested too deeply: '{source[:80]}...'", expression=source
        ) from None
    return tree.body


@lru_cache(maxsize=2048)
def _compile_cached(source: str, catalog_items: tuple[tuple[str, Variable], ...]) -> Expression:
    catalog = dict(catalog_items)
    compiler = _Compiler(source, catalog)
    try:
        compiled = compiler.compile(_parse(source))
    except RecursionError:
        raise RuleError(
            f"the expression is nested too deeply: '{source[:80]}...'", expression=source
        ) from None
    return Expression(source, compiled.kind, tuple(compiler.seen), compiled.fn)


def compile_expression(source: str, *, variables: Mapping[str, Variable]) -> Expression:
    """Parse, check and compile ``source`` against the variable catalog ``variables``.

    Raises ``RuleError`` (without ``field``: the caller knows it) naming the offending part: unknown
    variables (with a close match suggested), syntax errors with their column, forbidden constructs,
    and operands of the wrong kind (``'+' needs number operands, got a boolean``). Results are cached
    by source text, so compiling the same condition again is cheap.
    """
    normalised = _normalise(source)
    if not normalised:
        raise RuleError("the expression is empty", expression=source)
    if len(normalised) > MAX_EXPRESSION_CHARS:
        raise RuleError(
            f"the expression is {len(normalised)} characters long; the limit is {MAX_EXPRESSION_CHARS}",
            expression=normalised[:80],
        )
    return _compile_cached(normalised, tuple(variables.items()))


def compile_condition(source: str, *, variables: Mapping[str, Variable]) -> Expression:
    """``compile_expression`` that also insists on a boolean result (a rule's ``when``)."""
    expression = compile_expression(source, variables=variables)
    if expression.kind is not Kind.BOOLEAN:
        raise RuleError(
            f"the condition must be a comparison or boolean, got a number in '{expression.source}' "
            "(e.g. write 'soc_pct < 20')",
            expression=expression.source,
        )
    return expression

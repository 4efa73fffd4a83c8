"""The fast path for large reading batches (JSON and CSV): rows straight into NumPy columns.

Per-row pydantic models cost ~4.5 µs a row, more than the database insert itself. A batch that is
valid as a whole is checked here column by column (types, finiteness, ranges, offsets, meter-id
pattern on the distinct ids) and goes to the write path as arrays. Per-row work is left to C loops
(`map`, `dict.get`, the stdlib `csv` reader, one regular expression over a whole column, NumPy casts):
no Python frame runs per row.

One validation, two speeds: this path accepts only what `ReadingIn` accepts, with the same stored
values, and is narrower on purpose. Anything it is not sure of (a timestamp outside the one common ISO
form below, a number sent as text, an unknown field, ...) returns None, and the caller validates the
batch with the models, which decide and produce the exact 422 with row numbers: the fast path never
decides that a batch is invalid. tests/timeseries/test_columnar.py checks this with generated batches.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from luna_iems.db.base import to_epoch_us
from luna_iems.timeseries.parsing import READING_CSV_COLUMNS, check_csv_header
from luna_iems.timeseries.schemas import (
    EARLIEST,
    LATEST,
    MAX_BATCH_ROWS,
    MAX_POWER_KW,
    MAX_VOLTAGE_V,
    METER_ID_PATTERN,
    ReadingQuality,
)

_FIELDS = frozenset({"meter_id", "ts", "consumption_kw", "production_kw", "voltage", "quality"})
# The schema's pattern and length, matched against the whole id (`re.match` with `$` would let a
# trailing newline through, which the models refuse).
_METER_ID = re.compile(METER_ID_PATTERN)
_METER_ID_MAX_CHARS = 100
# The timestamps this path reads itself, column-wise: `YYYY-MM-DDThh:mm:ss[.f{1,6}](Z|±hh:mm)` in ASCII
# digits, offsets up to ±23:59. Every other form the models may accept or refuse (compact
# `20260101T001500Z`, week dates, `+01`, `+0100`, a space or `t` for the T, 7+ fraction digits, ...)
# goes to the models, which decide.
_TS_WIDTH = 32  # the longest such text: 19 + 7 (fraction) + 6 (offset)
_DIGITS_AT = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_FRACTION_SCALE = np.array([100_000, 10_000, 1_000, 100, 10, 1], dtype=np.int64)
_QUALITIES = frozenset(q.value for q in ReadingQuality)
_EARLIEST_US, _LATEST_US = to_epoch_us(EARLIEST), to_epoch_us(LATEST)
_NUMBER_TYPES = frozenset({int, float, type(None)})
_VALUE_FIELDS = ("consumption_kw", "production_kw", "voltage")
_GET_ID, _GET_TS = itemgetter("meter_id"), itemgetter("ts")
_NUMBER_CHARS = b"0123456789.-+eE"  # of CSV numbers this path reads (see `_csv_floats`)


@dataclass(frozen=True)
class ReadingColumns:
    meter_ids: npt.NDArray[Any]
    ts_us: npt.NDArray[np.int64]
    consumption_kw: npt.NDArray[np.float64]
    production_kw: npt.NDArray[np.float64]
    voltage: npt.NDArray[np.float64]
    quality: npt.NDArray[Any]


def _floats(
    values: list[Any], *, low: float, high: float, strict_low: bool = False
) -> npt.NDArray[np.float64] | None:
    """A float column (NaN = absent), or None when a value is not a number or out of range."""
    if not _NUMBER_TYPES.issuperset(map(type, values)):
        return None  # bools, numeric strings: the models decide
    try:
        column = np.array(values, dtype=np.float64)  # None becomes NaN
    except OverflowError:  # an int beyond float range
        return None
    if int(np.isnan(column).sum()) != values.count(None):
        return None  # a NaN sent as a value, not as null
    return column if _in_range(column, low=low, high=high, strict_low=strict_low) else None


def _in_range(column: npt.NDArray[np.float64], *, low: float, high: float, strict_low: bool) -> bool:
    """Every present (non-NaN) value finite and within [low, high] (or (low, high])."""
    present = column[~np.isnan(column)]
    if not present.size:
        return True
    too_low = (present <= low) if strict_low else (present < low)
    return bool(np.isfinite(present).all() and not too_low.any() and not (present > high).any())


def _only(kind: type, values: list[Any]) -> bool:
    return set(map(type, values)) == {kind}


def _collect(rows: list[Any]) -> tuple[list[Any], list[str], list[list[Any]]] | None:
    """Split rows into columns; None on a shape this path does not take."""
    if not _only(dict, rows) or not _FIELDS.issuperset(set().union(*rows)):  # every key known
        return None
    try:
        ids, stamps = list(map(_GET_ID, rows)), list(map(_GET_TS, rows))
    except KeyError:  # no meter_id or no ts
        return None
    quality = list(map(dict.get, rows, repeat("quality"), repeat("ok")))
    if not (_only(str, ids) and _only(str, stamps) and _only(str, quality)):
        return None  # e.g. {"quality": {}}: the row-by-row path names the field
    values = [list(map(dict.get, rows, repeat(name))) for name in _VALUE_FIELDS]
    return ids, stamps, [*values, quality]


def _epoch_us(stamps: Sequence[str]) -> npt.NDArray[np.int64] | None:
    """UTC microseconds of texts all in the one form above (exact integers), or None.

    A batch whose texts all have the first one's length and layout (the usual case: one writer, one
    format) is read from its ASCII bytes at fixed positions; any other goes through the general reader,
    which finds each text's layout. Both return the same instants for the texts both take
    (tests/timeseries/test_columnar.py).
    """
    if "\x00" in "".join(stamps):
        return None  # NumPy would drop a trailing NUL
    fields = _uniform_fields(stamps)
    if fields is None:
        fields = _general_fields(stamps)
    return None if fields is None else _instants(fields)


_Fields = tuple[npt.NDArray[np.int64], ...]  # year, month, day, hour, minute, second, µs, sign, ±h, ±m


def _uniform_layout(stamps: Sequence[str]) -> tuple[npt.NDArray[np.uint8], bool, int] | None:
    """(the texts' ASCII bytes as rows, ends in "Z", fraction digits) when every text has the first
    one's length and that length fits the form above; None otherwise."""
    first = stamps[0]
    width = len(first)
    zulu = first[-1:] == "Z"
    fraction = width - 19 - (1 if zulu else 6)  # the dot and its digits; 0 without a fraction
    layout_ok = 20 <= width <= _TS_WIDTH and (fraction == 0 or (2 <= fraction <= 7 and first[19] == "."))
    if not layout_ok or len(set(map(len, stamps))) != 1:
        return None
    try:
        raw = "".join(stamps).encode("ascii")
    except UnicodeEncodeError:
        return None
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(stamps), width), zulu, max(fraction - 1, 0)


def _uniform_fields(stamps: Sequence[str]) -> _Fields | None:
    """The fields of texts that all share the first text's length and layout, or None (including
    when they do not: the general reader decides then)."""
    layout = _uniform_layout(stamps)
    if layout is None:
        return None
    c, zulu, digits = layout
    n, width = c.shape
    offset = width - 6  # where a ±hh:mm offset starts
    fixed = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":"} | ({19: "."} if digits else {})
    fixed |= {width - 1: "Z"} if zulu else {offset + 3: ":"}
    fraction_at = list(range(20, 20 + digits))
    offset_at = [] if zulu else [offset + 1, offset + 2, offset + 4, offset + 5]
    d = c[:, _DIGITS_AT + fraction_at + offset_at].astype(np.int64) - 48
    minus = np.zeros(n, dtype=bool) if zulu else c[:, offset] == ord("-")
    ok = (
        all((c[:, at] == ord(char)).all() for at, char in fixed.items())
        and bool(((d >= 0) & (d <= 9)).all())
        and (zulu or bool((minus | (c[:, offset] == ord("+"))).all()))
    )
    if not ok:
        return None

    def number(*columns: int) -> npt.NDArray[np.int64]:
        return _decimal(d, columns)

    micros = np.zeros(n, dtype=np.int64)
    for i in range(digits):
        micros += d[:, 14 + i] * _FRACTION_SCALE[i]
    zero = np.zeros(n, dtype=np.int64)
    return (
        number(0, 1, 2, 3), number(4, 5), number(6, 7), number(8, 9), number(10, 11), number(12, 13),
        micros, np.where(minus, -1, 1),
        zero if zulu else number(14 + digits, 15 + digits),
        zero if zulu else number(16 + digits, 17 + digits),
    )  # fmt: skip


def _general_fields(stamps: Sequence[str]) -> _Fields | None:
    """The fields of texts in the form above, each with its own layout, or None."""
    text = np.array(stamps)
    width = text.dtype.itemsize // 4
    if text.dtype.kind != "U" or not 20 <= width <= _TS_WIDTH:
        return None
    n = len(stamps)
    c = np.zeros((n, _TS_WIDTH), dtype=np.int32)  # code points, 0 past the end of each text
    c[:, :width] = text.view(np.uint32).reshape(n, width)
    d = c.astype(np.int64) - 48  # digit values where c is an ASCII digit
    digit = (d >= 0) & (d <= 9)
    length = (c != 0).sum(axis=1)
    at = np.arange(n)
    zulu = c[at, length - 1] == ord("Z")
    fraction = c[:, 19] == ord(".")
    fraction_digits = length - 19 - fraction - np.where(zulu, 1, 6)  # 0 without a fraction
    in_fraction = fraction[:, None] & (np.arange(6) < fraction_digits[:, None])
    o = length - 6  # where a ±hh:mm offset starts
    offset_ok = (
        ((c[at, o] == ord("+")) | (c[at, o] == ord("-")))
        & digit[at, o + 1] & digit[at, o + 2] & (c[at, o + 3] == ord(":"))
        & digit[at, o + 4] & digit[at, o + 5]
    )  # fmt: skip
    ok = (
        (length >= 20)
        & digit[:, _DIGITS_AT].all(axis=1)
        & (c[:, 4] == ord("-")) & (c[:, 7] == ord("-")) & (c[:, 10] == ord("T"))
        & (c[:, 13] == ord(":")) & (c[:, 16] == ord(":"))
        & np.where(fraction, (fraction_digits >= 1) & (fraction_digits <= 6), fraction_digits == 0)
        & (digit[:, 20:26] | ~in_fraction).all(axis=1)
        & (zulu | offset_ok)
    )  # fmt: skip
    if not ok.all():
        return None

    def number(*positions: int) -> npt.NDArray[np.int64]:
        return _decimal(d, positions)

    return (
        number(0, 1, 2, 3), number(5, 6), number(8, 9), number(11, 12), number(14, 15), number(17, 18),
        (np.where(in_fraction, d[:, 20:26], 0) * _FRACTION_SCALE).sum(axis=1),
        np.where(~zulu & (c[at, o] == ord("-")), -1, 1),
        np.where(zulu, 0, d[at, o + 1] * 10 + d[at, o + 2]),
        np.where(zulu, 0, d[at, o + 4] * 10 + d[at, o + 5]),
    )  # fmt: skip


def _decimal(digits: npt.NDArray[np.int64], columns: Sequence[int]) -> npt.NDArray[np.int64]:
    """The decimal number each row's digit values in `columns` spell (most significant first)."""
    value = np.zeros(digits.shape[0], dtype=np.int64)
    for column in columns:
        value = value * 10 + digits[:, column]
    return value


def _instants(fields: _Fields) -> npt.NDArray[np.int64] | None:
    """UTC microseconds of the fields, or None when one is out of range (month 13, 2026-02-30, ...)."""
    year, month, day, hour, minute, second, micros, sign, offset_h, offset_m = fields
    in_range = (
        (year >= 1969) & (year <= 2200) & (month >= 1) & (month <= 12) & (day >= 1)
        & (hour <= 23) & (minute <= 59) & (second <= 59) & (offset_h <= 23) & (offset_m <= 59)
    )  # fmt: skip
    if not in_range.all():
        return None
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    first_day = months.astype("datetime64[D]").astype(np.int64)
    if (day > (months + 1).astype("datetime64[D]").astype(np.int64) - first_day).any():
        return None  # 2026-02-30
    local_s = (((first_day + day - 1) * 24 + hour) * 60 + minute) * 60 + second
    offset_s = sign * (offset_h * 3600 + offset_m * 60)
    return np.asarray((local_s - offset_s) * 1_000_000 + micros, dtype=np.int64)


def _valid_meter_id(meter_id: str) -> bool:
    return len(meter_id) <= _METER_ID_MAX_CHARS and _METER_ID.fullmatch(meter_id) is not None


def _columns(
    ids: Sequence[str],
    stamps: Sequence[str],
    quality: Sequence[str],
    floats: tuple[npt.NDArray[np.float64] | None, ...],
) -> ReadingColumns | None:
    """Check the text columns and assemble the batch; None if anything is doubtful."""
    c, p, v = floats
    if c is None or p is None or v is None:
        return None
    if not (all(_valid_meter_id(m) for m in set(ids)) and _QUALITIES.issuperset(quality)):
        return None
    ts_us = _epoch_us(stamps)
    if ts_us is None or ts_us.min() < _EARLIEST_US or ts_us.max() >= _LATEST_US:
        return None
    return ReadingColumns(np.array(ids, dtype=object), ts_us, c, p, v, np.array(quality, dtype=object))


def reading_columns(rows: Any) -> ReadingColumns | None:
    """Columns of a JSON batch that is valid as a whole, or None (then validate row by row)."""
    if type(rows) is not list or not rows or len(rows) > MAX_BATCH_ROWS:
        return None
    collected = _collect(rows)
    if collected is None:
        return None
    ids, stamps, (consumption, production, voltage, quality) = collected
    floats = (
        _floats(consumption, low=0.0, high=MAX_POWER_KW),
        _floats(production, low=0.0, high=MAX_POWER_KW),
        _floats(voltage, low=0.0, high=MAX_VOLTAGE_V, strict_low=True),
    )
    return _columns(ids, stamps, quality, floats)


# --- CSV ---------------------------------------------------------------------------------------
def _csv_floats(
    cells: list[str] | None, count: int, *, low: float, high: float, strict_low: bool = False
) -> npt.NDArray[np.float64] | None:
    """A CSV column as floats (an empty cell = absent, NaN), or None when a cell is not a number in
    the plain spelling below or is out of range.

    Only the characters `0-9 . - + e E` are taken: over them Python's `float` accepts exactly the
    texts the models accept, with the same values (both round correctly); spaces, `_`, `nan`, `inf`
    and non-ASCII digits (which `float` would read) go to the models.
    """
    if cells is None:  # the column is not in the file
        return np.full(count, np.nan)
    if "".join(cells).encode("utf-8", "surrogatepass").translate(None, _NUMBER_CHARS):
        return None  # a character other than these (bytes.translate deletes them in one C loop)
    empty = cells.count("")
    try:
        values = list(map(float, [c or "nan" for c in cells] if empty else cells))
    except ValueError:  # "1e", "1.2.3", "+-1", ...
        return None
    column = np.array(values, dtype=np.float64)
    if int(np.isnan(column).sum()) != empty:
        return None
    return column if _in_range(column, low=low, high=high, strict_low=strict_low) else None


def _csv_cells(text: str) -> tuple[list[str], list[str]] | None:
    """(header cells, all other cells row by row) as the stdlib `csv` reader reads them, or None for
    blank or ragged rows or a document that is not UTF-8 CSV text of the usual shape.

    Without a quote character, `csv.reader` splits exactly at commas and line ends, so one `split`
    does the work of 10,000 reader calls; with quotes, the reader itself reads the document.
    """
    if '"' in text:
        try:
            records = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error:
            return None
        if not records or not records[0] or set(map(len, records)) != {len(records[0])}:
            return None  # blank or ragged rows: the row-by-row path skips or names them
        return records[0], list(chain.from_iterable(records[1:]))
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None  # lone CR line ends: the reader decides
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the last line break ends the last row
    if not lines or set(map(str.count, lines, repeat(","))) != {lines[0].count(",")}:
        return None
    return lines[0].split(","), ",".join(lines[1:]).split(",") if len(lines) > 1 else []


def csv_reading_columns(body: bytes) -> ReadingColumns | None:
    """Columns of a CSV document that is valid as a whole, or None (then the row-by-row path decides).

    A bad header is refused here with the same 422 as the row-by-row path (the header alone decides
    it). Anything else unusual (not UTF-8, NUL, blank or ragged rows, more lines than the row limit,
    cells with spaces, numbers in another spelling, ...) returns None.
    """
    # A record ends at \n, \r or \r\n: more line breaks than the row limit may be a 413, which the
    # streaming reader decides without reading the whole body.
    breaks = body.count(b"\n") + body.count(b"\r") - body.count(b"\r\n")
    if breaks > MAX_BATCH_ROWS or b"\x00" in body:
        return None
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    cells = _csv_cells(text)
    if cells is None:
        return None
    first, flat = cells
    header = check_csv_header(first, columns=READING_CSV_COLUMNS, required=("meter_id", "ts"))
    width = len(header)
    n = len(flat) // width
    if len(set(header)) != width or not n or n > MAX_BATCH_ROWS:
        return None
    by_name = {name: flat[i::width] for i, name in enumerate(header)}
    quality = by_name.get("quality")
    floats = (
        _csv_floats(by_name.get("consumption_kw"), n, low=0.0, high=MAX_POWER_KW),
        _csv_floats(by_name.get("production_kw"), n, low=0.0, high=MAX_POWER_KW),
        _csv_floats(by_name.get("voltage"), n, low=0.0, high=MAX_VOLTAGE_V, strict_low=True),
    )
    if quality is not None and "" in quality:
        quality = [q or "ok" for q in quality]  # an empty cell is the default
    return _columns(by_name["meter_id"], by_name["ts"], quality or ["ok"] * n, floats)

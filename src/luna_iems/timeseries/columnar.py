"""The fast path for large JSON reading batches: rows straight into NumPy columns.

Per-row pydantic models cost ~4.5 µs a row, more than the database insert itself. A batch that is
valid as a whole is checked here column by column (types, finiteness, ranges, offsets, meter-id
pattern on the distinct ids) and goes to the write path as arrays.

One validation, two speeds: this path accepts only what `ReadingIn` accepts, with the same stored
values, and is narrower on purpose. Anything it is not sure of (a timestamp outside the one common ISO
form below, a number sent as text, an unknown field, ...) returns None, and the caller validates the
batch with the models, which decide and produce the exact 422 with row numbers: the fast path never
decides that a batch is invalid. tests/timeseries/test_columnar.py checks this with generated batches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from luna_iems.db.base import to_epoch_us
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
_NUMBER_TYPES = (int, float)


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
    if any(type(v) not in _NUMBER_TYPES for v in values if v is not None):
        return None  # bools, numeric strings: the models decide
    try:
        column = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except OverflowError:  # an int beyond float range
        return None
    absent = np.isnan(column)
    if int(absent.sum()) != values.count(None):
        return None  # a NaN sent as a value, not as null
    present = column[~absent]
    if present.size:
        too_low = (present <= low) if strict_low else (present < low)
        if not np.isfinite(present).all() or too_low.any() or (present > high).any():
            return None
    return column


def _collect(rows: list[Any]) -> tuple[list[Any], list[str], list[list[Any]]] | None:
    """Split rows into columns; None on a shape this path does not take."""
    ids: list[Any] = []
    stamps: list[str] = []
    values: list[list[Any]] = [[], [], [], []]  # consumption, production, voltage, quality
    try:
        for row in rows:
            if type(row) is not dict or not _FIELDS.issuperset(row):
                return None
            meter_id, ts, quality = row["meter_id"], row["ts"], row.get("quality", "ok")
            if type(meter_id) is not str or type(ts) is not str or type(quality) is not str:
                return None  # e.g. {"quality": {}}: the row-by-row path names the field
            ids.append(meter_id)
            stamps.append(ts)
            values[0].append(row.get("consumption_kw"))
            values[1].append(row.get("production_kw"))
            values[2].append(row.get("voltage"))
            values[3].append(quality)
    except KeyError:  # no meter_id or no ts
        return None
    return ids, stamps, values


def _epoch_us(stamps: list[str]) -> npt.NDArray[np.int64] | None:
    """UTC microseconds of texts all in the one form above (exact integers), or None."""
    if "\x00" in "".join(stamps):
        return None  # NumPy would drop a trailing NUL
    text = np.array(stamps)
    width = text.dtype.itemsize // 4
    if text.dtype.kind != "U" or not 20 <= width <= _TS_WIDTH:
        return None
    n = len(stamps)
    c = np.zeros((n, _TS_WIDTH), dtype=np.int32)  # code points, 0 past the end of each text
    c[:, :width] = text.view(np.uint32).reshape(n, width)
    d = c - 48  # digit values where c is an ASCII digit
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
        value = np.zeros(n, dtype=np.int64)
        for p in positions:
            value = value * 10 + d[:, p]
        return value

    year, month, day = number(0, 1, 2, 3), number(5, 6), number(8, 9)
    hour, minute, second = number(11, 12), number(14, 15), number(17, 18)
    offset_h = np.where(zulu, 0, d[at, o + 1] * 10 + d[at, o + 2])
    offset_m = np.where(zulu, 0, d[at, o + 4] * 10 + d[at, o + 5])
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
    sign = np.where(c[at, o] == ord("-"), -1, 1)
    local_s = (((first_day + day - 1) * 24 + hour) * 60 + minute) * 60 + second
    offset_s = np.where(zulu, 0, sign * (offset_h * 3600 + offset_m * 60))
    micros = (np.where(in_fraction, d[:, 20:26], 0) * _FRACTION_SCALE).sum(axis=1)
    return np.asarray((local_s - offset_s) * 1_000_000 + micros, dtype=np.int64)


def _valid_meter_id(meter_id: str) -> bool:
    return len(meter_id) <= _METER_ID_MAX_CHARS and _METER_ID.fullmatch(meter_id) is not None


def reading_columns(rows: Any) -> ReadingColumns | None:
    """Columns of a batch that is valid as a whole, or None (then validate row by row)."""
    if type(rows) is not list or not rows or len(rows) > MAX_BATCH_ROWS:
        return None
    collected = _collect(rows)
    if collected is None:
        return None
    ids, stamps, (consumption, production, voltage, quality) = collected
    ts_us = _epoch_us(stamps)
    if ts_us is None:
        return None
    valid = (
        all(_valid_meter_id(m) for m in set(ids))
        and set(quality) <= _QUALITIES
        and ts_us.min() >= _EARLIEST_US
        and ts_us.max() < _LATEST_US
    )
    if not valid:
        return None
    c = _floats(consumption, low=0.0, high=MAX_POWER_KW)
    p = _floats(production, low=0.0, high=MAX_POWER_KW)
    v = _floats(voltage, low=0.0, high=MAX_VOLTAGE_V, strict_low=True)
    if c is None or p is None or v is None:
        return None
    return ReadingColumns(np.array(ids, dtype=object), ts_us, c, p, v, np.array(quality, dtype=object))

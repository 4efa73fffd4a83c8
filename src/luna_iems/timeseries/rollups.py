"""Rollups of raw readings at 15 minutes and 1 hour (UTC-aligned) and 1 day (the meter's local day).

Pure NumPy: raw samples in, one row per bucket out, so the result is the same on every database.
A sample at t stands for the mean power over [t, t + d). With a declared meter interval, d is that
interval (or the gap to the next sample, when shorter); otherwise d is the gap to the next sample, and
a gap longer than 1.5 typical steps counts as one step (a missing stretch is not counted as covered,
while the jitter of real meters, 9 s, 10 s, 11 s, is).

A sample is cut where its interval crosses bucket edges and each piece goes to its own bucket, weighted
by its length: an hourly reading puts a quarter of its energy into each of its four quarter-hours, a
reading crossing local midnight splits between two days. Import and export are computed per sample from
the net flow before summing (netting inside a bucket would hide both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from luna_iems.db.base import to_epoch_us
from luna_iems.db.timebucket import offset_transitions

US = 1_000_000
DAY_US = 86_400 * US
RESOLUTIONS = {"15m": 900 * US, "1h": 3600 * US}
DEFAULT_STEP_US = 900 * US

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RollupRows:
    resolution: str
    ts_us: I64  # bucket start, UTC microseconds
    samples: I64  # valid samples that start in the bucket
    covered_s: F64
    consumption_kwh: F64
    production_kwh: F64
    import_kwh: F64
    export_kwh: F64
    consumption_kw_min: F64
    consumption_kw_max: F64
    production_kw_min: F64
    production_kw_max: F64
    consumption_kw_last: F64
    production_kw_last: F64
    voltage_avg: F64


@dataclass(frozen=True)
class Pieces:
    """Intervals cut at cell edges: piece k is part of interval `sample[k]` inside cell `cell[k]`.

    Pieces come in the order of their intervals (and so of their cells when intervals do not overlap).
    """

    sample: I64
    cell: I64
    length_us: I64
    first: Bool  # the piece where its interval starts


def typical_step_us(ts_us: I64) -> int:
    """Median positive gap between samples (a quarter-hour when fewer than two samples)."""
    gaps = np.diff(np.sort(ts_us))
    positive = gaps[gaps > 0]
    return int(np.median(positive)) if positive.size else DEFAULT_STEP_US


def sample_durations_us(ts_us: I64, *, step_us: int | None = None, declared: bool = False) -> I64:
    """Duration each sample stands for (`ts_us` sorted).

    `declared`: `step_us` is the meter's declared interval; a sample lasts that long, or up to the next
    sample when that comes sooner. Otherwise a sample lasts until the next one, or one typical step
    (`step_us`, inferred from the samples when not given) across a gap longer than 1.5 steps.
    """
    if ts_us.size == 0:
        return np.zeros(0, dtype=np.int64)
    step = typical_step_us(ts_us) if step_us is None else int(step_us)
    gaps = np.diff(ts_us)
    durations = np.empty_like(ts_us)
    if declared:
        durations[:-1] = np.minimum(gaps, step)
    else:
        durations[:-1] = np.where(gaps <= step * 1.5, gaps, step)
    durations[-1] = step
    return durations


def split_at_edges(starts_us: I64, ends_us: I64, edges_us: I64) -> Pieces:
    """Cut each interval [start, end) at `edges_us` (sorted); keep the pieces of positive length that
    lie inside [edges[0], edges[-1])."""
    n_cells = edges_us.size - 1
    if n_cells < 1 or starts_us.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Pieces(empty, empty, empty, np.zeros(0, dtype=np.bool_))
    first = np.clip(np.searchsorted(edges_us, starts_us, side="right") - 1, 0, n_cells - 1)
    last = np.clip(np.searchsorted(edges_us, ends_us, side="left") - 1, 0, n_cells - 1)
    counts = np.maximum(last - first + 1, 0)
    sample = np.repeat(np.arange(starts_us.size, dtype=np.int64), counts)
    offsets = np.cumsum(counts) - counts
    cell = first[sample] + (np.arange(sample.size, dtype=np.int64) - offsets[sample])
    lo = np.maximum(starts_us[sample], edges_us[cell])
    hi = np.minimum(ends_us[sample], edges_us[cell + 1])
    keep = hi > lo
    return Pieces(
        sample=sample[keep],
        cell=cell[keep],
        length_us=(hi - lo)[keep],
        first=(lo == starts_us[sample])[keep],
    )


def regular_edges_us(lo_us: int, hi_us: int, width_us: int) -> I64:
    """Edges of the UTC-aligned cells of `width_us` that cover [lo, hi)."""
    start = lo_us - lo_us % width_us
    end = hi_us + (-hi_us) % width_us
    return np.arange(start, end + width_us, width_us, dtype=np.int64)


def local_day_edges_us(lo_us: int, hi_us: int, tz: ZoneInfo) -> I64:
    """Local midnights in `tz` (as UTC microseconds) from the one starting lo's day past hi."""
    day = datetime.fromtimestamp(lo_us / US, tz=tz).date()
    last = datetime.fromtimestamp(hi_us / US, tz=tz).date() + timedelta(days=1)
    edges = []
    while day <= last:
        edges.append(to_epoch_us(datetime(day.year, day.month, day.day, tzinfo=tz)))
        day += timedelta(days=1)
    return np.array(edges, dtype=np.int64)


def local_day_start_us(ts_us: I64, tz: ZoneInfo) -> I64:
    """UTC microseconds of the local midnight that starts each sample's day in `tz`."""
    if ts_us.size == 0:
        return ts_us
    start = datetime.fromtimestamp(int(ts_us[0]) / US, tz=ZoneInfo("UTC"))
    end = datetime.fromtimestamp(int(ts_us[-1]) / US, tz=ZoneInfo("UTC"))
    transitions = offset_transitions(tz, start, end)
    instants = np.array([to_epoch_us(t) for t, _ in transitions], dtype=np.int64)
    offsets = np.array([o * US for _, o in transitions], dtype=np.int64)
    offset = offsets[np.searchsorted(instants, ts_us, side="right") - 1]
    local = ts_us + offset
    day_local = (local // DAY_US) * DAY_US
    # The offset at local midnight may differ from the sample's (a DST switch during the night).
    midnight_offset = offsets[np.searchsorted(instants, day_local - offset, side="right") - 1]
    return day_local - midnight_offset


def _reduce(values: F64, valid: Bool, starts: I64, reducer: np.ufunc) -> F64:
    out: F64 = reducer.reduceat(np.where(valid, values, np.nan), starts)  # fmin/fmax skip NaN
    return out


def _last_valid(values: F64, valid: Bool, starts: I64) -> F64:
    index = np.where(valid, np.arange(values.size), -1)
    last = np.maximum.reduceat(index, starts)
    return np.where(last >= 0, values[np.maximum(last, 0)], np.nan)


def compute_rollups(
    ts_us: I64,
    consumption_kw: F64,
    production_kw: F64,
    voltage: F64,
    *,
    tz: ZoneInfo,
    step_us: int | None = None,
    declared: bool = False,
    window_us: tuple[int, int] | None = None,
) -> list[RollupRows]:
    """Rollups at 15m, 1h and 1d for one meter's samples (any order; NaN = no value).

    `step_us`/`declared`: see `sample_durations_us`. `window_us`: only the parts of samples inside
    [lo, hi) count (samples before it still set the durations); by default, all of them.
    """
    order = np.argsort(ts_us, kind="stable")
    ts_us, consumption_kw, production_kw, voltage = (
        ts_us[order],
        consumption_kw[order],
        production_kw[order],
        voltage[order],
    )
    if ts_us.size == 0:
        return []
    ends_us = ts_us + sample_durations_us(ts_us, step_us=step_us, declared=declared)
    lo, hi = window_us if window_us is not None else (int(ts_us[0]), int(ends_us[-1]))
    has_c, has_p, has_v = np.isfinite(consumption_kw), np.isfinite(production_kw), np.isfinite(voltage)
    valid = has_c | has_p
    c, p = np.where(has_c, consumption_kw, 0.0), np.where(has_p, production_kw, 0.0)
    net = c - p
    power_kw = {
        "consumption_kwh": c,
        "production_kwh": p,
        "import_kwh": np.maximum(net, 0.0),
        "export_kwh": np.maximum(-net, 0.0),
    }
    edges_by_resolution = {res: regular_edges_us(lo, hi, width) for res, width in RESOLUTIONS.items()}
    edges_by_resolution["1d"] = local_day_edges_us(lo, hi, tz)
    result = []
    for resolution, edges in edges_by_resolution.items():
        inside = np.clip(edges, lo, hi)
        pieces = split_at_edges(ts_us, ends_us, inside)
        if pieces.sample.size == 0:
            continue
        s, cell = pieces.sample, pieces.cell
        starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
        hours = np.where(valid[s], pieces.length_us / (3600 * US), 0.0)
        v_n = np.add.reduceat(has_v[s].astype(np.int64), starts)
        v_sum = np.add.reduceat(np.where(has_v[s], voltage[s], 0.0), starts)
        result.append(
            RollupRows(
                resolution=resolution,
                ts_us=edges[cell[starts]],
                samples=np.add.reduceat((valid[s] & pieces.first).astype(np.int64), starts),
                covered_s=np.add.reduceat(hours, starts) * 3600.0,
                **{name: np.add.reduceat(kw[s] * hours, starts) for name, kw in power_kw.items()},
                consumption_kw_min=_reduce(consumption_kw[s], has_c[s], starts, np.fmin),
                consumption_kw_max=_reduce(consumption_kw[s], has_c[s], starts, np.fmax),
                production_kw_min=_reduce(production_kw[s], has_p[s], starts, np.fmin),
                production_kw_max=_reduce(production_kw[s], has_p[s], starts, np.fmax),
                consumption_kw_last=_last_valid(consumption_kw[s], has_c[s], starts),
                production_kw_last=_last_valid(production_kw[s], has_p[s], starts),
                voltage_avg=np.where(v_n > 0, v_sum / np.maximum(v_n, 1), np.nan),
            )
        )
    return result

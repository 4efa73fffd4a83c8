"""Rollups of raw readings at 15 minutes and 1 hour (UTC-aligned) and 1 day (the meter's local day).

Pure NumPy: raw samples in, one row per bucket out, so the result is the same on every database.
A sample at t stands for the mean power over [t, t + d), where d is the gap to the next sample; a gap
longer than 1.5 typical steps counts as one step (a missing stretch is not counted as covered, while
the jitter of real meters, 9 s, 10 s, 11 s, is). Import and export are
computed per sample from the net flow before summing (netting inside a bucket would hide both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from luna_iems.db.base import to_epoch_us
from luna_iems.db.timebucket import offset_transitions

US = 1_000_000
RESOLUTIONS = {"15m": 900 * US, "1h": 3600 * US}
DEFAULT_STEP_US = 900 * US

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RollupRows:
    resolution: str
    ts_us: I64  # bucket start, UTC microseconds
    samples: I64
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


def sample_durations_us(ts_us: I64) -> I64:
    """Duration each sample stands for: the gap to the next one, or one typical step across a gap."""
    if ts_us.size == 0:
        return np.zeros(0, dtype=np.int64)
    gaps = np.diff(ts_us)
    positive = gaps[gaps > 0]
    step = int(np.median(positive)) if positive.size else DEFAULT_STEP_US
    durations = np.empty_like(ts_us)
    durations[:-1] = np.where(gaps <= step * 1.5, gaps, step)
    durations[-1] = step
    return durations


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
    day_local = (local // (86_400 * US)) * (86_400 * US)
    # The offset at local midnight may differ from the sample's (a DST switch during the night).
    midnight_offset = offsets[np.searchsorted(instants, day_local - offset, side="right") - 1]
    return day_local - midnight_offset


def _group(keys: I64, values: F64, valid: npt.NDArray[np.bool_], starts: I64, reducer: np.ufunc) -> F64:
    masked = np.where(valid, values, np.nan)
    out: F64 = reducer.reduceat(masked, starts)  # fmin/fmax ignore NaN unless all are NaN
    return out


def _last_valid(values: F64, valid: npt.NDArray[np.bool_], starts: I64) -> F64:
    index = np.where(valid, np.arange(values.size), -1)
    last = np.maximum.reduceat(index, starts)
    return np.where(last >= 0, values[np.maximum(last, 0)], np.nan)


def compute_rollups(
    ts_us: I64, consumption_kw: F64, production_kw: F64, voltage: F64, *, tz: ZoneInfo
) -> list[RollupRows]:
    """Rollups at 15m, 1h and 1d for one meter's samples (any order; NaN = no value)."""
    order = np.argsort(ts_us, kind="stable")
    ts_us, consumption_kw, production_kw, voltage = (
        ts_us[order],
        consumption_kw[order],
        production_kw[order],
        voltage[order],
    )
    has_c, has_p = np.isfinite(consumption_kw), np.isfinite(production_kw)
    valid = has_c | has_p
    c = np.where(has_c, consumption_kw, 0.0)
    p = np.where(has_p, production_kw, 0.0)
    hours = np.where(valid, sample_durations_us(ts_us) / (3600 * US), 0.0)
    net = c - p
    energy = {
        "consumption_kwh": c * hours,
        "production_kwh": p * hours,
        "import_kwh": np.maximum(net, 0.0) * hours,
        "export_kwh": np.maximum(-net, 0.0) * hours,
    }
    keys_by_resolution = {res: (ts_us // width) * width for res, width in RESOLUTIONS.items()}
    keys_by_resolution["1d"] = local_day_start_us(ts_us, tz)
    has_v = np.isfinite(voltage)
    result = []
    for resolution, keys in keys_by_resolution.items():
        if keys.size == 0:
            continue
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        v_sum = np.add.reduceat(np.where(has_v, voltage, 0.0), starts)
        v_n = np.add.reduceat(has_v.astype(np.int64), starts)
        result.append(
            RollupRows(
                resolution=resolution,
                ts_us=keys[starts],
                samples=np.add.reduceat(valid.astype(np.int64), starts),
                covered_s=np.add.reduceat(hours, starts) * 3600.0,
                **{name: np.add.reduceat(values, starts) for name, values in energy.items()},
                consumption_kw_min=_group(keys, consumption_kw, has_c, starts, np.fmin),
                consumption_kw_max=_group(keys, consumption_kw, has_c, starts, np.fmax),
                production_kw_min=_group(keys, production_kw, has_p, starts, np.fmin),
                production_kw_max=_group(keys, production_kw, has_p, starts, np.fmax),
                consumption_kw_last=_last_valid(consumption_kw, has_c, starts),
                production_kw_last=_last_valid(production_kw, has_p, starts),
                voltage_avg=np.where(v_n > 0, v_sum / np.maximum(v_n, 1), np.nan),
            )
        )
    return result

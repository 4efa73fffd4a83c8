"""Anomalies in one regular meter series: spikes, flatlines (stuck meter), gaps and drift from a forecast.

Pure NumPy: no database, no HTTP. `detect` takes a regular series (the value at `start + i * step` is
the mean power over that step, NaN = missing reading) and returns one `Anomaly` per event, each with the
numbers behind it and an English sentence that quotes them. Four detectors, each documented on its
function:

- spike: a robust z-score (median and MAD, the modified z-score idea of `timeseries.quality`) of the
  residual against the medians of the neighbouring steps on each side, scaled by the *local* noise.
  A global score (`timeseries.quality.robust_z`, or |z| > 3) judges a step against the whole day's
  range: a night-time spike to the evening level passes, and what it does flag are daily peaks. In
  the benchmark it finds about half of the injected spikes; the local score finds them all from x2 on.
- flatline: at least `flatline_min_steps` readings that do not change, in a series that normally does.
- gap: runs of at least `gap_min_steps` missing readings.
- drift (only with a forecast `expected`): a two-sided CUSUM of relative residuals averaged over blocks
  of a few hours (forecast errors are persistent; single steps would sum correlated noise).

Each fault is reported once, under its most specific kind: flatline steps are left out of the spike
test, and spike and flatline steps out of the drift test (a stuck meter also deviates from its
forecast, but it is a flatline). Consecutive anomalous steps of one kind are one anomaly.
All times are UTC; the end of an anomaly is exclusive. The defaults were chosen, and their precision
and recall are measured, by `benchmarks/anomalies.py`.

The shared `Anomaly` record, `DetectorConfig`, the validated `Series` and their helpers are in
`anomaly_types.py`; the drift detector is in `anomaly_drift.py`. This module holds `detect` and the
spike, flatline and gap detectors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from luna_iems.decisions.anomaly_drift import drifts
from luna_iems.decisions.anomaly_types import (
    DEFAULT_CONFIG,
    MAD_TO_SIGMA,
    Anomaly,
    BoolArray,
    DetectorConfig,
    FloatArray,
    Series,
    Severity,
    span_text,
    usual_level,
    validate,
    validate_expected,
    when_text,
)

# A spike's scale is the local noise over this many spike windows around it: wide enough to hold a few
# dozen steps, narrow enough to follow the level of the day (noise is relative to the load).
SPIKE_SCALE_WINDOWS: Final = 3
SECOND_DIFFERENCE_GAIN: Final = math.sqrt(1.5)
# Floor of the spike scale, as a fraction of the series' level (95th percentile of |value|): where the
# local scale collapses (PV at night: exactly 0), a deviation must still be a few percent of the
# series' usual size to count.
SPIKE_SCALE_FLOOR: Final = 0.01
# ... and at least this multiple of the series' typical relative noise times the local level (load
# noise is relative; the benchmark: 0 lets a calm neighbourhood turn 2-sigma noise into spikes).
SPIKE_RELATIVE_FLOOR: Final = 1.0
# |value| at or below this fraction of the level counts as zero (inverter standby, dusk, rounding).
ZERO_FRACTION_OF_LEVEL: Final = 0.01
# A series that is zero for at least this share of its readings has zero as a normal state (a machine
# that is off at night, a heat pump, an EV charger): its zero runs are not flatlines.
ZERO_NORMAL_SHARE: Final = 0.2
# Production fields (by name): zero runs are normal whatever their share (PV is 0 every night), and
# spikes are only looked for at night (by day, clouds make PV jump by design).
PRODUCTION_FIELD_PARTS: Final = ("production", "export", "feed_in", "generation", "pv")
# Severity thresholds (documented on DetectorConfig).
SPIKE_WARNING_FACTOR: Final = 1.5
SPIKE_CRITICAL_FACTOR: Final = 3.0
CRITICAL_DURATION: Final = timedelta(days=1)
GAP_WARNING_DURATION: Final = timedelta(hours=4)


def detect(
    *,
    start: datetime,
    step_minutes: int,
    values: npt.ArrayLike,
    expected: npt.ArrayLike | None = None,
    field: str = "consumption_kw",
    config: DetectorConfig = DEFAULT_CONFIG,
) -> list[Anomaly]:
    """Anomalies of one regular series, sorted by start time.

    `values[i]` is the mean over [start + i * step, start + (i + 1) * step), in the unit of `field`
    (kW for `*_kw`); NaN marks a missing reading. `expected`, when given, is a forecast aligned step by
    step to `values` (same unit, NaN where there is none) and enables the drift detector. `start` must
    be timezone-aware; anomalies are returned in UTC.

    Raises ValueError when `start` is naive, `step_minutes` is not a positive integer, `values` is not
    one-dimensional, `expected` does not have the length of `values`, or either holds an infinite value
    (the message names the argument and the first offending index).
    """
    series = validate(start=start, step_minutes=step_minutes, values=values, field=field, config=config)
    forecast = None if expected is None else validate_expected(expected, series.x.size)
    if series.x.size == 0:
        return []
    flatlines = _flatlines(series)
    # A stuck stretch has no noise: left in, it would shrink the spike scale of its neighbours.
    stuck = _mask(series, flatlines)
    spikes = _spikes(series, stuck)
    found = [*_gaps(series), *spikes, *flatlines]
    if forecast is not None:
        found += drifts(series, forecast, stuck | _mask(series, spikes))
    return sorted(found, key=lambda a: (a.start, a.kind))


# --- helpers ------------------------------------------------------------------------------------------


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _nanmedian_rows(windows: FloatArray, min_finite: int) -> FloatArray:
    """Median of each row ignoring NaN; NaN where fewer than `min_finite` values are finite."""
    enough = np.count_nonzero(np.isfinite(windows), axis=1) >= max(min_finite, 1)
    result = np.full(windows.shape[0], np.nan)
    # Only rows with finite values reach nanmedian: an all-NaN row would warn.
    result[enough] = np.nanmedian(windows[enough], axis=1)
    return result


def _rolling_nanmedian(x: FloatArray, window: int, min_finite: int) -> FloatArray:
    """Centred rolling median (odd `window`) ignoring NaN."""
    half = window // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, half, constant_values=np.nan), window)
    return _nanmedian_rows(windows, min_finite)


def _side_medians(x: FloatArray, half: int) -> tuple[FloatArray, FloatArray]:
    """Medians of the `half` steps before and of the `half` steps after each step (NaN ignored; NaN
    where all of them are missing or beyond the ends of the series)."""
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, half, constant_values=np.nan), half)
    medians = _nanmedian_rows(windows, min_finite=1)
    # windows[i] holds x[i - half : i]; windows[i + half + 1] holds x[i + 1 : i + half + 1].
    return medians[: x.size], medians[half + 1 : half + 1 + x.size]


def _mask(series: Series, anomalies: Sequence[Anomaly]) -> BoolArray:
    """True on the steps covered by `anomalies`."""
    mask = np.zeros(series.x.size, dtype=bool)
    for anomaly in anomalies:
        mask[_index(series, anomaly.start) : _index(series, anomaly.end)] = True
    return mask


def _index(series: Series, when: datetime) -> int:
    return round((when - series.start) / series.step)


# --- gaps ---------------------------------------------------------------------------------------------


def _gaps(series: Series) -> list[Anomaly]:
    """Runs of at least `gap_min_steps` missing readings: one anomaly per run, score = steps missing."""
    found = []
    for a, b in _runs(np.isnan(series.x)):
        steps = b - a
        if steps < series.config.gap_min_steps:
            continue
        duration = series.duration(steps)
        severity: Severity = (
            "critical"
            if duration >= CRITICAL_DURATION
            else "warning"
            if duration >= GAP_WARNING_DURATION
            else "info"
        )
        found.append(
            Anomaly(
                kind="gap",
                start=series.at(a),
                end=series.at(b),
                severity=severity,
                score=float(steps),
                evidence={
                    "steps": steps,
                    "hours": round(duration / timedelta(hours=1), 3),
                    "threshold_steps": series.config.gap_min_steps,
                },
                message=(
                    f"{series.field} has no readings for {steps} steps ({span_text(duration)}) "
                    f"from {when_text(series.at(a))} to {when_text(series.at(b))}"
                ),
            )
        )
    return found


# --- spikes -------------------------------------------------------------------------------------------


def _spike_scores(series: Series, stuck: BoolArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(baseline, scale, robust z) per step; NaN where there is no baseline.

    Baseline: the medians of the (spike_window_steps - 1) / 2 steps before and after, taken apart. A
    spike stands out from both sides in the same direction; a step that sits on a ramp (morning
    start-up) lies between them, and a step just after an edge (a shift starting, midnight into a
    weekend) matches one of them. So the residual is the smaller of the two deviations when they agree
    in sign and 0 when they do not: daily peaks, ramps, shift edges and weekends do not count.
    Scale: the local noise, from the MAD of second differences (x[i] - (x[i-1] + x[i+1]) / 2, immune
    to ramps) over SPIKE_SCALE_WINDOWS spike windows, because meter noise is relative: a household
    varies 5 times more at its evening peak than at night. At least the series' typical relative
    noise times the local level (a MAD of a few dozen steps is noisy itself), and at least
    SPIKE_SCALE_FLOOR of the series' level, so that exact zeros (PV at night) do not turn rounding
    errors into spikes.
    """
    x, window = np.where(stuck, np.nan, series.x), series.config.spike_window_steps
    before, after = _side_medians(x, window // 2)
    dev_before, dev_after = x - before, x - after
    agree = np.sign(dev_before) == np.sign(dev_after)
    smaller = np.where(np.abs(dev_before) <= np.abs(dev_after), dev_before, dev_after)
    # NaN (no spike) where a side has no reading at all: the newest reading of a series is judged when
    # the next one arrives, because until then a spike and the start of a shift look alike (judging it
    # on one side would raise an alarm at every edge and withdraw it a step later).
    residual = np.where(agree, smaller, 0.0)
    residual[np.isnan(dev_before) | np.isnan(dev_after)] = np.nan
    baseline = x - residual
    second = np.full(x.size, np.nan)
    second[1:-1] = x[1:-1] - 0.5 * (x[:-2] + x[2:])
    scale_window = SPIKE_SCALE_WINDOWS * window
    scale_window += 1 - scale_window % 2  # odd, centred
    mad = _rolling_nanmedian(np.abs(second), scale_window, min_finite=window)
    # For white noise of standard deviation s, the second difference has standard deviation s * 1.22.
    noise = MAD_TO_SIGMA * mad / SECOND_DIFFERENCE_GAIN
    level = usual_level(x)
    # A MAD of a few dozen steps is itself noisy (a calm hour happens): the series' typical relative
    # noise at the local level bounds it from below.
    relative_noise = _relative_noise(x, second, level)
    floor = np.fmax(SPIKE_RELATIVE_FLOOR * relative_noise * np.abs(baseline), SPIKE_SCALE_FLOOR * level)
    floor = np.fmax(floor, np.finfo(np.float64).tiny)
    scale = np.fmax(noise, floor)  # fmax: NaN (too few readings around) -> the floor
    return baseline, scale, residual / scale


def _relative_noise(x: FloatArray, second: FloatArray, level: float) -> float:
    """The series' typical noise relative to its value: robust sigma of second differences / |x|,
    over steps that are not (nearly) zero; 0 when there are none."""
    usable = np.isfinite(second) & (np.abs(x) > ZERO_FRACTION_OF_LEVEL * level)
    if not usable.any():
        return 0.0
    ratio = np.abs(second[usable]) / np.abs(x[usable])
    return MAD_TO_SIGMA * float(np.median(ratio)) / SECOND_DIFFERENCE_GAIN


def _spikes(series: Series, stuck: BoolArray) -> list[Anomaly]:
    """Steps whose |robust z| reaches `spike_z`; consecutive ones merge, score = the largest |z|.
    Steps in `stuck` (flatlines) are treated as missing."""
    cfg = series.config
    baseline, scale, z = _spike_scores(series, stuck)
    flagged = np.abs(np.nan_to_num(z)) >= cfg.spike_z
    if _is_production(series.field):
        # By day, PV follows the clouds: a 15-minute sun break is a genuine jump of half the array's
        # power. What a production meter must not show is output out of the dark.
        flagged &= np.abs(baseline) <= ZERO_FRACTION_OF_LEVEL * usual_level(series.x)
    found = []
    for a, b in _runs(flagged):
        peak = a + int(np.argmax(np.abs(z[a:b])))
        observed, expected, peak_z = float(series.x[peak]), float(baseline[peak]), float(z[peak])
        size = abs(peak_z)
        severity: Severity = (
            "critical"
            if size >= SPIKE_CRITICAL_FACTOR * cfg.spike_z
            else "warning"
            if size >= SPIKE_WARNING_FACTOR * cfg.spike_z
            else "info"
        )
        verb = "spiked to" if peak_z > 0 else "dropped to"
        steps = b - a
        length = "" if steps == 1 else f", the peak of {steps} steps from {when_text(series.at(a))},"
        found.append(
            Anomaly(
                kind="spike",
                start=series.at(a),
                end=series.at(b),
                severity=severity,
                score=round(size, 3),
                evidence={
                    "observed": round(observed, 4),
                    "expected": round(expected, 4),
                    "robust_z": round(peak_z, 3),
                    "threshold": cfg.spike_z,
                    "scale": round(float(scale[peak]), 4),
                    "steps": steps,
                    "unit": series.unit,
                },
                message=(
                    f"{series.field} {verb} {series.amount(observed)} at "
                    f"{when_text(series.at(peak))}{length} "
                    f"(expected {series.amount(expected)}, robust z {peak_z:.1f})"
                ),
            )
        )
    return found


# --- flatlines ----------------------------------------------------------------------------------------


def _is_production(field: str) -> bool:
    return any(part in field.lower() for part in PRODUCTION_FIELD_PARTS)


def _zero_is_normal(series: Series, near_zero: BoolArray) -> bool:
    if _is_production(series.field):
        return True
    return bool(near_zero.size) and float(np.mean(near_zero)) >= ZERO_NORMAL_SHARE


def _flatlines(series: Series) -> list[Anomaly]:
    """Runs of at least `flatline_min_steps` readings that do not change (a stuck meter).

    "Do not change" means |change from the previous finite reading| <= flatline_rel_tol x the
    series' typical change, the median |change| over pairs of readings that are not both zero. Short
    holes (fewer than `gap_min_steps` NaN) do not break a run; a reported gap does. Not flagged:
    - any run, if the typical change is 0: the series does not normally vary (a fixed setpoint, an EV
      charger at constant power), so constancy is its normal state;
    - zero-valued runs, if zero is a normal state of the series: a production or export field (PV is
      0 every night) or a series that is zero for at least ZERO_NORMAL_SHARE of its readings.
    So a stuck meter is only found while the rest of the window behaves normally (more than half of
    the pairs must vary), and a PV meter stuck at 0 by day looks like an overcast day here: the drift
    detector against a PV forecast is the test for that.
    """
    cfg = series.config
    index = np.flatnonzero(np.isfinite(series.x))
    if index.size < cfg.flatline_min_steps:
        return []
    readings = series.x[index]
    near_zero = np.abs(readings) <= ZERO_FRACTION_OF_LEVEL * usual_level(series.x)
    change = np.abs(np.diff(readings))
    bridged = np.diff(index) - 1 < cfg.gap_min_steps  # no reported gap between the two readings
    varying = bridged & ~(near_zero[1:] & near_zero[:-1])
    typical = float(np.median(change[varying])) if varying.any() else 0.0
    if typical <= 0.0:
        return []
    tolerance = cfg.flatline_rel_tol * typical
    zero_normal = _zero_is_normal(series, near_zero)
    found = []
    for a, b in _runs((change <= tolerance) & bridged):  # pairs a..b-1 join readings a..b
        count = b - a + 1
        if count < cfg.flatline_min_steps or (zero_normal and near_zero[a : b + 1].all()):
            continue
        first, end = int(index[a]), int(index[b]) + 1
        found.append(
            _flatline(
                series,
                first=first,
                end=end,
                count=count,
                value=float(readings[a]),
                typical=typical,
                tolerance=tolerance,
            )
        )
    return found


def _flatline(
    series: Series, *, first: int, end: int, count: int, value: float, typical: float, tolerance: float
) -> Anomaly:
    steps = end - first
    duration = series.duration(steps)
    return Anomaly(
        kind="flatline",
        start=series.at(first),
        end=series.at(end),
        severity="critical" if duration >= CRITICAL_DURATION else "warning",
        score=float(steps),
        evidence={
            "value": round(value, 4),
            "steps": steps,
            "readings": count,
            "hours": round(duration / timedelta(hours=1), 3),
            "typical_change": round(typical, 4),
            "tolerance": round(tolerance, 6),
            "threshold_steps": series.config.flatline_min_steps,
            "unit": series.unit,
        },
        message=(
            f"{series.field} stayed at {series.amount(value)} for {steps} steps ({span_text(duration)}) "
            f"from {when_text(series.at(first))}, although it usually changes by "
            f"{series.amount(typical)} per step"
        ),
    )

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
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

Kind = Literal["spike", "flatline", "gap", "drift"]
Severity = Literal["info", "warning", "critical"]

# 1 / 0.6745: turns a MAD into a standard deviation for normal data (timeseries.quality uses 0.6745).
MAD_TO_SIGMA: Final = 1.4826
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
# Drift residuals are relative to max(|expected|, this fraction of the forecast's level), so that a
# forecast near zero (PV at night) does not blow them up.
DRIFT_LEVEL_FLOOR: Final = 0.05
# Standardised block means are clipped to this many sigmas before the CUSUM, so that one odd block (a
# spike that escaped the spike test, a burst) cannot reach the threshold on its own: it adds at most
# 4 - drift_k = 3 < drift_h = 5 with the defaults; two such blocks (8 hours) can.
DRIFT_CLIP_Z: Final = 4.0
# Fewest blocks on which the spread of block means is measured (else the white-noise value is used).
DRIFT_MIN_BLOCKS: Final = 8
# Smallest standard deviation of a block mean of relative residuals (1 %): against a (nearly) exact
# forecast, meter rounding must not add up to a drift.
DRIFT_MIN_SIGMA: Final = 0.01
# Severity thresholds (documented on DetectorConfig).
SPIKE_WARNING_FACTOR: Final = 1.5
SPIKE_CRITICAL_FACTOR: Final = 3.0
CRITICAL_DURATION: Final = timedelta(days=1)
GAP_WARNING_DURATION: Final = timedelta(hours=4)
DRIFT_WARNING_PCT: Final = 10.0
DRIFT_CRITICAL_PCT: Final = 25.0

_UNITS: Final = (
    ("_eur_mwh", "EUR/MWh"),
    ("_eur_kwh", "EUR/kWh"),
    ("_kwh", "kWh"),
    ("_kw", "kW"),
    ("_v", "V"),
)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One anomalous period of a series.

    `start` is the first affected step and `end` the exclusive end, both tz-aware UTC. `score` is the
    detector's statistic: the largest |robust z| (spike), the number of steps (flatline, gap) or the
    peak CUSUM value in standard deviations (drift). `evidence` holds the numbers a human can check
    (values in the field's unit, named in `evidence["unit"]`).
    """

    kind: Kind
    start: datetime
    end: datetime
    severity: Severity
    score: float
    evidence: dict[str, float | int | str]
    message: str


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Thresholds of the four detectors; the defaults were chosen with `benchmarks/anomalies.py`.

    spike_z: |robust z| of the residual against the neighbours' medians at or above which a step is a
        spike (5.0: the benchmark's clean series raise false spikes from 4 down, none at 4.5 and
        above; 5 keeps a margin for the heavier tails of real loads). Severity: info below
        1.5 x spike_z, warning below 3 x spike_z, critical above.
    spike_window_steps: odd width of the neighbourhood, the step in the middle (13: 1.5 h on each side
        at 15 minutes). Spikes up to a quarter of it long are seen in full; excursions longer than
        half of it are level changes, not spikes.
    flatline_min_steps: readings in a row that do not change before a flatline is reported (5:
        1.25 h at 15 minutes). The benchmark sees false flatlines at 3 (meters round to 1 W, and a
        household at night repeats a reading now and then) and none at 4; 5 keeps a margin for real
        meters with coarser rounding, at the cost of missing stuck periods under 1.25 h. Severity:
        warning, critical from one day on.
    flatline_rel_tol: "does not change" means |step-to-step change| <= this fraction of the series'
        median |step-to-step change| (0.005: a stuck register repeats its value exactly, but a
        looser tolerance would take a smooth PV curve under heavy overcast, or its dusk tail, for one).
    gap_min_steps: missing readings in a row before a gap is reported (4: 1 h at 15 minutes; isolated
        missing readings are routine and counted by `timeseries.quality`). Severity: info below 4 h,
        warning below 1 day, critical from one day on.
    drift_block_steps: the drift test works on means over blocks of this many steps (16: 4 h at 15
        minutes); drift spans are whole blocks.
    drift_k: CUSUM allowance in standard deviations of a block mean (1.0: tuned to shifts of about
        two standard deviations; forecast errors of one standard deviation last for days).
    drift_h: CUSUM decision threshold in standard deviations of a block mean (5.0). Severity from the
        mean deviation: info below 10 %, warning below 25 %, critical from 25 % on (the CUSUM value
        grows with the duration, so it would rank a long 5 % drift above a short 40 % one).

    Raises ValueError naming the field when a value is out of range.
    """

    spike_z: float = 5.0
    spike_window_steps: int = 13
    flatline_min_steps: int = 5
    flatline_rel_tol: float = 0.005
    gap_min_steps: int = 4
    drift_block_steps: int = 16
    drift_k: float = 1.0
    drift_h: float = 5.0

    def __post_init__(self) -> None:
        for name in ("spike_z", "drift_h"):
            if not getattr(self, name) > 0:
                raise ValueError(f"DetectorConfig.{name} must be > 0 (got {getattr(self, name)})")
        for name in ("flatline_rel_tol", "drift_k"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"DetectorConfig.{name} must be >= 0 (got {getattr(self, name)})")
        if self.spike_window_steps < 3 or self.spike_window_steps % 2 == 0:
            raise ValueError(
                f"DetectorConfig.spike_window_steps must be odd and >= 3 (got {self.spike_window_steps})"
            )
        if self.flatline_min_steps < 2:
            raise ValueError(
                f"DetectorConfig.flatline_min_steps must be >= 2 (got {self.flatline_min_steps})"
            )
        if self.drift_block_steps < 1:
            raise ValueError(f"DetectorConfig.drift_block_steps must be >= 1 (got {self.drift_block_steps})")
        if self.gap_min_steps < 1:
            raise ValueError(f"DetectorConfig.gap_min_steps must be >= 1 (got {self.gap_min_steps})")


DEFAULT_CONFIG: Final = DetectorConfig()


@dataclass(frozen=True, slots=True)
class _Series:
    """The validated input of `detect`, with the helpers every detector needs."""

    start: datetime
    step: timedelta
    x: FloatArray
    field: str
    unit: str
    config: DetectorConfig

    def at(self, index: int) -> datetime:
        return self.start + index * self.step

    def duration(self, steps: int) -> timedelta:
        return steps * self.step

    def amount(self, value: float) -> str:
        return f"{_num(value)} {self.unit}".rstrip()


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
    series = _validate(start=start, step_minutes=step_minutes, values=values, field=field, config=config)
    forecast = None if expected is None else _validate_expected(expected, series.x.size)
    if series.x.size == 0:
        return []
    flatlines = _flatlines(series)
    # A stuck stretch has no noise: left in, it would shrink the spike scale of its neighbours.
    stuck = _mask(series, flatlines)
    spikes = _spikes(series, stuck)
    found = [*_gaps(series), *spikes, *flatlines]
    if forecast is not None:
        found += _drifts(series, forecast, stuck | _mask(series, spikes))
    return sorted(found, key=lambda a: (a.start, a.kind))


# --- validation ---------------------------------------------------------------------------------------


def _validate(
    *, start: datetime, step_minutes: int, values: npt.ArrayLike, field: str, config: DetectorConfig
) -> _Series:
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(
            f"start must be timezone-aware (got naive {start.isoformat()}); pass UTC or an offset"
        )
    if isinstance(step_minutes, bool) or not isinstance(step_minutes, numbers.Integral) or step_minutes <= 0:
        raise ValueError(f"step_minutes must be a positive integer (got {step_minutes!r})")
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"values must be one-dimensional (got shape {x.shape})")
    _check_no_infinity("values", x)
    unit = next((u for suffix, u in _UNITS if field.endswith(suffix)), "")
    return _Series(
        start=start.astimezone(UTC),
        step=timedelta(minutes=int(step_minutes)),
        x=x,
        field=field,
        unit=unit,
        config=config,
    )


def _validate_expected(expected: npt.ArrayLike, size: int) -> FloatArray:
    forecast = np.asarray(expected, dtype=np.float64)
    if forecast.ndim != 1:
        raise ValueError(f"expected must be one-dimensional (got shape {forecast.shape})")
    if forecast.size != size:
        raise ValueError(
            f"expected has {forecast.size} values but values has {size}; "
            "pass a forecast aligned step by step to values (NaN where there is none)"
        )
    _check_no_infinity("expected", forecast)
    return forecast


def _check_no_infinity(name: str, array: FloatArray) -> None:
    infinite = np.flatnonzero(np.isinf(array))
    if infinite.size:
        raise ValueError(
            f"{name} holds {infinite.size} infinite value(s), the first at index {int(infinite[0])}; "
            "use NaN for a missing reading"
        )


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


def _mask(series: _Series, anomalies: Sequence[Anomaly]) -> BoolArray:
    """True on the steps covered by `anomalies`."""
    mask = np.zeros(series.x.size, dtype=bool)
    for anomaly in anomalies:
        mask[_index(series, anomaly.start) : _index(series, anomaly.end)] = True
    return mask


def _level(x: FloatArray) -> float:
    """The series' usual size: 95th percentile of |value| (0 for an all-NaN series)."""
    finite = np.abs(x[np.isfinite(x)])
    return float(np.percentile(finite, 95)) if finite.size else 0.0


def _index(series: _Series, when: datetime) -> int:
    return round((when - series.start) / series.step)


def _num(value: float) -> str:
    """A number with the precision a reader needs: 352 kW, 48.2 kW, 6.14 kW, 0.412 kW."""
    if not math.isfinite(value):
        return "n/a"
    size = abs(value)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    return f"{value:.{digits}f}"


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _span(duration: timedelta) -> str:
    hours = duration / timedelta(hours=1)
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


# --- gaps ---------------------------------------------------------------------------------------------


def _gaps(series: _Series) -> list[Anomaly]:
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
                    f"{series.field} has no readings for {steps} steps ({_span(duration)}) "
                    f"from {_when(series.at(a))} to {_when(series.at(b))}"
                ),
            )
        )
    return found


# --- spikes -------------------------------------------------------------------------------------------


def _spike_scores(series: _Series, stuck: BoolArray) -> tuple[FloatArray, FloatArray, FloatArray]:
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
    level = _level(x)
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


def _spikes(series: _Series, stuck: BoolArray) -> list[Anomaly]:
    """Steps whose |robust z| reaches `spike_z`; consecutive ones merge, score = the largest |z|.
    Steps in `stuck` (flatlines) are treated as missing."""
    cfg = series.config
    baseline, scale, z = _spike_scores(series, stuck)
    flagged = np.abs(np.nan_to_num(z)) >= cfg.spike_z
    if _is_production(series.field):
        # By day, PV follows the clouds: a 15-minute sun break is a genuine jump of half the array's
        # power. What a production meter must not show is output out of the dark.
        flagged &= np.abs(baseline) <= ZERO_FRACTION_OF_LEVEL * _level(series.x)
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
        length = "" if steps == 1 else f", the peak of {steps} steps from {_when(series.at(a))},"
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
                    f"{series.field} {verb} {series.amount(observed)} at {_when(series.at(peak))}{length} "
                    f"(expected {series.amount(expected)}, robust z {peak_z:.1f})"
                ),
            )
        )
    return found


# --- flatlines ----------------------------------------------------------------------------------------


def _is_production(field: str) -> bool:
    return any(part in field.lower() for part in PRODUCTION_FIELD_PARTS)


def _zero_is_normal(series: _Series, near_zero: BoolArray) -> bool:
    if _is_production(series.field):
        return True
    return bool(near_zero.size) and float(np.mean(near_zero)) >= ZERO_NORMAL_SHARE


def _flatlines(series: _Series) -> list[Anomaly]:
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
    near_zero = np.abs(readings) <= ZERO_FRACTION_OF_LEVEL * _level(series.x)
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
    series: _Series, *, first: int, end: int, count: int, value: float, typical: float, tolerance: float
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
            f"{series.field} stayed at {series.amount(value)} for {steps} steps ({_span(duration)}) "
            f"from {_when(series.at(first))}, although it usually changes by "
            f"{series.amount(typical)} per step"
        ),
    )


# --- drift --------------------------------------------------------------------------------------------


def _relative_residuals(series: _Series, forecast: FloatArray, masked: BoolArray) -> FloatArray:
    """(value - forecast) / max(|forecast|, DRIFT_LEVEL_FLOOR x the forecast's level) per step.

    Relative, because load noise and forecast errors scale with the load. NaN where the value or the
    forecast is missing or the step belongs to a spike or a flatline.
    """
    level = np.fmax(np.abs(forecast), DRIFT_LEVEL_FLOOR * _level(forecast))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative: FloatArray = np.where(masked | (level <= 0), np.nan, (series.x - forecast) / level)
    return relative


def _robust_sigma(values: FloatArray) -> float:
    """MAD x 1.4826 of the finite values; the mean absolute deviation x 1.2533 when over half of them
    are equal (as `timeseries.quality.robust_z` falls back); 0 when all are."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0
    deviation = np.abs(finite - float(np.median(finite)))
    sigma = MAD_TO_SIGMA * float(np.median(deviation))
    return sigma if sigma > 0 else 1.253314 * float(np.mean(deviation))


def _block_scores(relative: FloatArray, block: int) -> FloatArray:
    """Mean relative residual per block of `block` steps, in robust standard deviations of such block
    means, clipped to +- DRIFT_CLIP_Z; NaN for blocks with fewer than half of their steps usable.

    Blocks, because forecast errors are persistent (weather, occupancy): step residuals are strongly
    autocorrelated, so a CUSUM of steps standardised by the step scale sums correlated noise and
    alarms all the time. The spread of block means measured on the series itself includes that
    persistence. It is not allowed below the white-noise value (step sigma / sqrt(block)), which also
    stands in when there are fewer than DRIFT_MIN_BLOCKS blocks to measure a spread on.
    """
    blocks = -(-relative.size // block)
    padded = np.full(blocks * block, np.nan)
    padded[: relative.size] = relative
    grid = padded.reshape(blocks, block)
    usable = np.count_nonzero(np.isfinite(grid), axis=1)
    means = np.full(blocks, np.nan)
    enough = usable * 2 >= block
    means[enough] = np.nanmean(grid[enough], axis=1)
    sigma = _robust_sigma(relative) / math.sqrt(block)
    if np.count_nonzero(enough) >= DRIFT_MIN_BLOCKS:
        sigma = max(sigma, _robust_sigma(means))
    sigma = max(sigma, DRIFT_MIN_SIGMA)
    return np.clip(means / sigma, -DRIFT_CLIP_Z, DRIFT_CLIP_Z)


def _cusum_excursions(z: FloatArray, k: float, h: float, sign: float) -> list[tuple[int, int, float]]:
    """(start, end, peak) of each excursion of the one-sided CUSUM of sign * z that reaches h.

    The span runs from the element where the sum last left zero to the one where it peaked: the peak,
    not the alarm or the return to zero, is the best estimate of where the shift ended. An excursion
    also ends once the sum has fallen h below its peak (as much evidence that the shift is over as it
    took to raise the alarm); the sum then restarts from 0, so that a second shift soon after a long
    one is not lost in the slow decay of the first. NaN elements leave the sum unchanged.
    """
    found = []
    total, begin, peak, peak_at = 0.0, 0, 0.0, 0
    for i, value in enumerate(z.tolist()):
        if math.isnan(value):
            continue
        if total == 0.0:
            begin, peak = i, 0.0
        total = max(0.0, total + sign * value - k)
        if total > peak:
            peak, peak_at = total, i
        if peak >= h and (total == 0.0 or peak - total >= h):
            found.append((begin, peak_at + 1, peak))
            total, peak = 0.0, 0.0
    if peak >= h:
        found.append((begin, peak_at + 1, peak))
    return found


def _drifts(series: _Series, forecast: FloatArray, masked: BoolArray) -> list[Anomaly]:
    """Sustained deviations from the forecast: a two-sided CUSUM (allowance `drift_k`, threshold
    `drift_h`, in standard deviations) over blocks of `drift_block_steps` (see `_block_scores`).
    Spans are whole blocks, cut at the end of the series.
    """
    cfg = series.config
    z = _block_scores(_relative_residuals(series, forecast, masked), cfg.drift_block_steps)
    found = []
    for sign in (1.0, -1.0):
        for a, b, peak in _cusum_excursions(z, cfg.drift_k, cfg.drift_h, sign):
            first, end = a * cfg.drift_block_steps, min(b * cfg.drift_block_steps, series.x.size)
            found.append(
                _drift(series, forecast=forecast, masked=masked, a=first, b=end, peak=peak, sign=sign)
            )
    return found


def _drift(
    series: _Series, *, forecast: FloatArray, masked: BoolArray, a: int, b: int, peak: float, sign: float
) -> Anomaly:
    observed, predicted = series.x[a:b], forecast[a:b]
    usable = np.isfinite(observed) & np.isfinite(predicted) & ~masked[a:b]
    deviation = float(np.mean(observed[usable] - predicted[usable]))
    predicted_mean = float(np.mean(predicted[usable]))
    pct = 100.0 * deviation / abs(predicted_mean) if predicted_mean != 0 else math.nan
    size = abs(pct) if math.isfinite(pct) else math.inf
    severity: Severity = (
        "critical" if size >= DRIFT_CRITICAL_PCT else "warning" if size >= DRIFT_WARNING_PCT else "info"
    )
    direction = "above" if sign > 0 else "below"
    steps = b - a
    share = f"{abs(pct):.1f}%" if math.isfinite(pct) else "n/a %"
    sign_text = "+" if deviation >= 0 else ""
    return Anomaly(
        kind="drift",
        start=series.at(a),
        end=series.at(b),
        severity=severity,
        score=round(peak, 3),
        evidence={
            "direction": direction,
            "mean_deviation": round(deviation, 4),
            "mean_deviation_pct": round(pct, 2),
            "observed_mean": round(float(np.mean(observed[usable])), 4),
            "expected_mean": round(predicted_mean, 4),
            "cusum": round(peak, 3),
            "threshold": series.config.drift_h,
            "block_steps": series.config.drift_block_steps,
            "steps": steps,
            "unit": series.unit,
        },
        message=(
            f"{series.field} ran {share} {direction} forecast for {steps} steps "
            f"({_span(series.duration(steps))}) from {_when(series.at(a))} "
            f"(mean deviation {sign_text}{series.amount(deviation)}, "
            f"CUSUM {peak:.1f} > {series.config.drift_h:g})"
        ),
    )

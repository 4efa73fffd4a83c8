"""What the anomaly detectors share: the `Anomaly` record, `DetectorConfig` with its defaults, and
`Series`, the validated input of `anomalies.detect` (`validate`, `validate_expected`), with the
helpers that read it and phrase its numbers (`usual_level`, `when_text`, `span_text`).

The detectors themselves and the entry point `detect` are in `anomalies.py` (spikes, flatlines, gaps)
and `anomaly_drift.py` (drift from a forecast); what the detectors do is `anomalies`' docstring.
Pure NumPy: no database, no HTTP.
"""

from __future__ import annotations

import math
import numbers
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
class Series:
    """The validated input of `anomalies.detect`, with the helpers every detector needs."""

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


# --- validation ---------------------------------------------------------------------------------------


def validate(
    *, start: datetime, step_minutes: int, values: npt.ArrayLike, field: str, config: DetectorConfig
) -> Series:
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
    return Series(
        start=start.astimezone(UTC),
        step=timedelta(minutes=int(step_minutes)),
        x=x,
        field=field,
        unit=unit,
        config=config,
    )


def validate_expected(expected: npt.ArrayLike, size: int) -> FloatArray:
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


def usual_level(x: FloatArray) -> float:
    """The series' usual size: 95th percentile of |value| (0 for an all-NaN series)."""
    finite = np.abs(x[np.isfinite(x)])
    return float(np.percentile(finite, 95)) if finite.size else 0.0


def _num(value: float) -> str:
    """A number with the precision a reader needs: 352 kW, 48.2 kW, 6.14 kW, 0.412 kW."""
    if not math.isfinite(value):
        return "n/a"
    size = abs(value)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    return f"{value:.{digits}f}"


def when_text(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def span_text(duration: timedelta) -> str:
    hours = duration / timedelta(hours=1)
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"

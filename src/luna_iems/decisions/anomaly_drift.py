"""The drift detector of `anomalies.detect`: a two-sided CUSUM of relative residuals against a forecast,
averaged over blocks of a few hours (`drifts`; why blocks: `_block_scores`).

The shared record, configuration and series are in `anomaly_types.py`; the other detectors (spikes,
flatlines, gaps) and the entry point `detect` in `anomalies.py`, whose docstring describes all four.
Pure NumPy: no database, no HTTP.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from luna_iems.decisions.anomaly_types import (
    MAD_TO_SIGMA,
    Anomaly,
    BoolArray,
    FloatArray,
    Series,
    Severity,
    span_text,
    usual_level,
    when_text,
)

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
DRIFT_WARNING_PCT: Final = 10.0
DRIFT_CRITICAL_PCT: Final = 25.0


def _relative_residuals(series: Series, forecast: FloatArray, masked: BoolArray) -> FloatArray:
    """(value - forecast) / max(|forecast|, DRIFT_LEVEL_FLOOR x the forecast's level) per step.

    Relative, because load noise and forecast errors scale with the load. NaN where the value or the
    forecast is missing or the step belongs to a spike or a flatline.
    """
    level = np.fmax(np.abs(forecast), DRIFT_LEVEL_FLOOR * usual_level(forecast))
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


def drifts(series: Series, forecast: FloatArray, masked: BoolArray) -> list[Anomaly]:
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
    series: Series, *, forecast: FloatArray, masked: BoolArray, a: int, b: int, peak: float, sign: float
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
            f"({span_text(series.duration(steps))}) from {when_text(series.at(a))} "
            f"(mean deviation {sign_text}{series.amount(deviation)}, "
            f"CUSUM {peak:.1f} > {series.config.drift_h:g})"
        ),
    )

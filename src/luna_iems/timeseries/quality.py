"""Data quality of an ingest batch, per series: gaps, outliers, duplicates, out-of-order rows.

Pure NumPy, no database. Outliers use the modified z-score of Iglewicz and Hoaglin,
0.6745 * (x - median) / MAD, flagged above 3.5; it is robust to the outliers it looks for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

OUTLIER_Z = 3.5
_MAD_SCALE = 0.6745


@dataclass(frozen=True, slots=True)
class SeriesQualityReport:
    series: str
    rows: int
    expected_rows: int
    missing_rate: float
    outliers: int
    max_robust_z: float | None
    duplicates: int
    out_of_order: int
    step_s: float | None


def robust_z(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Modified z-scores of the finite values (NaN stays NaN). Constant series give zeros."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.full(values.shape, np.nan)
    median = float(np.median(finite))
    mad = float(np.median(np.abs(finite - median)))
    if mad == 0.0:
        # More than half the values are equal: fall back to the mean absolute deviation.
        mean_ad = float(np.mean(np.abs(finite - median)))
        if mean_ad == 0.0:
            return np.where(np.isfinite(values), 0.0, np.nan)
        return (values - median) / (1.253314 * mean_ad)
    return _MAD_SCALE * (values - median) / mad


def assess_series(
    series: str,
    ts_us: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    flagged_missing: npt.NDArray[np.bool_],
) -> SeriesQualityReport:
    """Quality of one series, with rows in the order they arrived."""
    rows = int(ts_us.size)
    out_of_order = int(np.count_nonzero(np.diff(ts_us) < 0)) if rows > 1 else 0
    unique_ts = np.unique(ts_us)
    duplicates = rows - int(unique_ts.size)
    step_s: float | None = None
    expected = int(unique_ts.size)
    if unique_ts.size >= 2:
        step_us = float(np.median(np.diff(unique_ts)))
        step_s = step_us / 1e6
        expected = round(float(unique_ts[-1] - unique_ts[0]) / step_us) + 1
        expected = max(expected, int(unique_ts.size))
    absent = expected - int(unique_ts.size)
    missing = absent + int(np.count_nonzero(flagged_missing | ~np.isfinite(values)))
    z = robust_z(values)
    finite_z = np.abs(z[np.isfinite(z)])
    return SeriesQualityReport(
        series=series,
        rows=rows,
        expected_rows=expected,
        missing_rate=min(1.0, missing / expected) if expected else 0.0,
        outliers=int(np.count_nonzero(finite_z > OUTLIER_Z)),
        max_robust_z=round(float(finite_z.max()), 3) if finite_z.size else None,
        duplicates=duplicates,
        out_of_order=out_of_order,
        step_s=step_s,
    )


def assess_batch(
    series: npt.NDArray[np.str_],
    ts_us: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    flagged_missing: npt.NDArray[np.bool_],
    groups: tuple[npt.NDArray[np.str_], npt.NDArray[np.intp], npt.NDArray[np.intp]] | None = None,
) -> list[SeriesQualityReport]:
    """Quality per series of a batch (arrays aligned by row, rows in arrival order), series in order of
    first appearance. `groups`: (distinct names, a key per name that orders them by first appearance,
    each row's index into the names) when the caller has them already, e.g.
    `np.unique(series, return_index=True, return_inverse=True)`."""
    names, first, codes = groups or np.unique(series, return_index=True, return_inverse=True)
    order = np.argsort(codes, kind="stable")  # rows grouped by series, arrival order kept inside
    bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=names.size))]
    reports = []
    for code in np.argsort(first):
        rows = order[bounds[code] : bounds[code + 1]]
        reports.append(assess_series(str(names[code]), ts_us[rows], values[rows], flagged_missing[rows]))
    return reports

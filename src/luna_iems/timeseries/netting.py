"""A site as one grid connection: its meters netted at the finest resolution all of them have.

A grid connection meter nets per instant: what the site's loads draw while its PV produces is not
imported. Readings only tell the mean power over each reading's interval, so the site is netted on the
finest common grid (`common_step_us`): per minute for 1-minute meters, per quarter-hour when one meter
reads every 15 minutes, per hour when one reads hourly. Netting coarser than the readings would hide
import and export that happened (a load peak at noon and PV in the afternoon cancel in an hourly sum);
netting finer would invent a profile inside a coarse reading.

Each net cell's import and export then go to the UTC quarter-hours it covers (a cell longer than a
quarter-hour spreads evenly over its quarter-hours), next to the meters' summed consumption and
production per quarter-hour. Pure NumPy, like `rollups`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from luna_iems.timeseries.rollups import (
    DAY_US,
    F64,
    I64,
    US,
    regular_edges_us,
    sample_durations_us,
    split_at_edges,
)

QUARTER_US = 900 * US
# Grid widths in seconds: every divisor of a quarter-hour, then multiples of it up to a day, so cells
# always nest in quarter-hours or quarter-hours in cells.
STEPS_S = (*(s for s in range(1, 901) if 900 % s == 0), 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class MeterSamples:
    """One meter's raw samples (any order; NaN = no value) and its reading interval."""

    ts_us: I64
    consumption_kw: F64
    production_kw: F64
    step_us: int
    declared: bool


@dataclass(frozen=True)
class SiteRows:
    ts_us: I64  # quarter-hour start, UTC microseconds
    meters: I64  # meters with a reading in the quarter-hour
    covered_s: F64  # the meters' covered seconds, added up
    consumption_kwh: F64
    production_kwh: F64
    import_kwh: F64
    export_kwh: F64
    netting_s: float


def common_step_us(steps_us: Sequence[int]) -> int:
    """The finest grid (from STEPS_S) no meter's interval is finer than (5 % tolerance for jitter)."""
    need = max(steps_us) * 0.95
    return next((s * US for s in STEPS_S if s * US >= need), DAY_US)


def _bincount(cells: I64, *, weights: F64, minlength: int) -> F64:
    return np.bincount(cells, weights=weights, minlength=minlength).astype(np.float64)


def _energy_per_cell(
    ts_us: I64, ends_us: I64, consumption_kw: F64, production_kw: F64, edges_us: I64
) -> tuple[F64, F64, F64]:
    """Consumption and production (kWh) and covered seconds per cell of `edges_us`."""
    has_c, has_p = np.isfinite(consumption_kw), np.isfinite(production_kw)
    pieces = split_at_edges(ts_us, ends_us, edges_us)
    s = pieces.sample
    hours = np.where((has_c | has_p)[s], pieces.length_us / (3600 * US), 0.0)
    size = edges_us.size - 1
    c = _bincount(pieces.cell, weights=np.where(has_c, consumption_kw, 0.0)[s] * hours, minlength=size)
    p = _bincount(pieces.cell, weights=np.where(has_p, production_kw, 0.0)[s] * hours, minlength=size)
    return c, p, _bincount(pieces.cell, weights=hours * 3600.0, minlength=size)


def net_site(meters: Sequence[MeterSamples], lo_us: int, hi_us: int) -> SiteRows:
    """Per quarter-hour of [lo, hi) (both multiples of the common grid and of a quarter-hour)."""
    step = common_step_us([m.step_us for m in meters]) if meters else QUARTER_US
    cells = regular_edges_us(lo_us, hi_us, step)[: (hi_us - lo_us) // step + 1]
    quarters = regular_edges_us(lo_us, hi_us, QUARTER_US)[: (hi_us - lo_us) // QUARTER_US + 1]
    n_quarters = quarters.size - 1
    cell_c, cell_p = np.zeros(cells.size - 1), np.zeros(cells.size - 1)
    q_c, q_p, q_covered = np.zeros(n_quarters), np.zeros(n_quarters), np.zeros(n_quarters)
    q_meters = np.zeros(n_quarters, dtype=np.int64)
    for m in meters:
        order = np.argsort(m.ts_us, kind="stable")
        ts = m.ts_us[order]
        ends = ts + sample_durations_us(ts, step_us=m.step_us, declared=m.declared)
        consumption, production = m.consumption_kw[order], m.production_kw[order]
        c, p, _ = _energy_per_cell(ts, ends, consumption, production, cells)
        cell_c += c
        cell_p += p
        c, p, covered_s = _energy_per_cell(ts, ends, consumption, production, quarters)
        q_c += c
        q_p += p
        q_covered += covered_s
        q_meters += covered_s > 0
    net = cell_c - cell_p
    cell_import, cell_export = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    if step <= QUARTER_US:
        quarter_of_cell = (cells[:-1] - lo_us) // QUARTER_US
        q_import = _bincount(quarter_of_cell, weights=cell_import, minlength=n_quarters)
        q_export = _bincount(quarter_of_cell, weights=cell_export, minlength=n_quarters)
    else:
        per = step // QUARTER_US
        q_import = np.repeat(cell_import / per, per).astype(np.float64)
        q_export = np.repeat(cell_export / per, per).astype(np.float64)
    keep = q_meters > 0
    return SiteRows(
        ts_us=quarters[:-1][keep],
        meters=q_meters[keep],
        covered_s=q_covered[keep],
        consumption_kwh=q_c[keep],
        production_kwh=q_p[keep],
        import_kwh=q_import[keep],
        export_kwh=q_export[keep],
        netting_s=step / US,
    )

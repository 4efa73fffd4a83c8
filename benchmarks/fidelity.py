"""How closely the simulated household follows BDEW H25: Pearson's r per month and day type.

Figure: `simulation.fidelity.household_h25_fidelity` for the configured `household` profile (the
shipped `config/sim.yml`: bdew_h25, 3,500 kWh, noise 0.10, outage rate 0.002, with its seed), one
calendar year at 15 minutes in the configured time zone. Each cell is r between the simulated mean day
(96 local quarter-hours) and the H25 shape of that month and day type (WT working day, SA Saturday,
FT Sunday/holiday). Target: r >= 0.95 in every cell.

Reference ("baseline"): r between each H25 shape and the same shape shifted one hour later
(`np.roll` by 4 quarter-hours, wrapping at midnight). It shows what a clearly wrong shape, one that
is right in every respect except that it runs an hour late, still scores: r is a forgiving measure
for smooth daily shapes, so the margin above this reference matters more than r itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

YEAR = 2025
SHIFT_QUARTER_HOURS = 4  # one hour


def shifted_reference() -> dict[int, dict[str, float]]:
    """{month: {day type: r(H25 shape, H25 shape one hour later)}}."""
    from luna_iems.energy.calendar import DAY_TYPES
    from luna_iems.simulation import profiles

    table = profiles.h25_kw_per_kwh()
    return {
        month + 1: {
            kind: float(np.corrcoef(table[month, k], np.roll(table[month, k], SHIFT_QUARTER_HOURS))[0, 1])
            for k, kind in enumerate(DAY_TYPES)
        }
        for month in range(12)
    }


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    """`quick` and `postgres` change nothing: one year of one meter is already quick, and in memory."""
    from luna_iems.energy.calendar import DAY_TYPES
    from luna_iems.simulation.config import load_sim_config
    from luna_iems.simulation.fidelity import FIDELITY_TARGET_R, household_h25_fidelity, minimum_r

    config = load_sim_config()
    fidelity = household_h25_fidelity(
        profile=config.profile("household"),
        year=YEAR,
        seed=config.seed,
        timezone=config.timezone,
        lat=config.site.lat,
        lon=config.site.lon,
    )
    reference = shifted_reference()
    rows: list[dict[str, Any]] = []
    for month in range(1, 13):
        row: dict[str, Any] = {"month": month}
        for kind in DAY_TYPES:
            r = fidelity.get(month, {}).get(kind)
            row[f"r_{kind}"] = None if r is None else round(r, 4)
        for kind in DAY_TYPES:
            row[f"ref_{kind}_1h_late"] = round(reference[month][kind], 4)
        rows.append(row)
    sim_min, ref_min = minimum_r(fidelity), minimum_r(reference)
    cells = sum(len(v) for v in fidelity.values())
    columns = [c for c in rows[0] if c != "month"]
    rows.append({"month": "min"} | {c: min(r[c] for r in rows if r[c] is not None) for c in columns})
    kinds = DAY_TYPES
    return {
        "title": f"H25 fidelity of the simulated household, {YEAR}, r per month and day type",
        "params": {"year": YEAR, "seed": config.seed, "timezone": config.timezone, "profile": "household"},
        "columns": ["month", *(f"r_{k}" for k in kinds), *(f"ref_{k}_1h_late" for k in kinds)],
        "rows": rows,
        "summary": {
            "min_r": sim_min,
            "min_r_reference_1h_late": ref_min,
            "target": FIDELITY_TARGET_R,
            "met": sim_min >= FIDELITY_TARGET_R,
            "cells": cells,
        },
        "notes": [
            f"min r {sim_min:.4f} over {cells} cells (target >= {FIDELITY_TARGET_R}); "
            f"reference (H25 one hour late) min r {ref_min:.4f}",
        ],
    }

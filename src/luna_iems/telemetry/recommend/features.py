"""The context vector the bandits see: fixed names and order (docs/learning.md, "Context features").

| feature | value |
|---|---|
| bias | 1 |
| hour_sin, hour_cos | time of day on the unit circle (site time zone), so 23:00 is near 00:00 |
| soc, soc_missing | battery state of charge 0..1, or 0 and the flag 1 when the client sent none |
| price_low, price_high | the client's price level one-hot (normal: both 0); price_missing when none |
| alerts | open alerts, capped at `ALERTS_CAP`, divided by it (0..1) |
| page_* | the page the client is on, one-hot; any other page: all 0 |
| question | 1 when a question was asked |

Changing this list changes the dimension of every stored statistic: the stored rows carry the names,
and `service` refuses statistics whose names differ (start a new statistics set instead).
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from luna_iems.telemetry.recommend.bandits import Vector

PAGES: tuple[str, ...] = ("/", "/prices", "/smart-meters", "/playbook", "/support")
ALERTS_CAP = 5
FEATURES: tuple[str, ...] = (
    "bias",
    "hour_sin",
    "hour_cos",
    "soc",
    "soc_missing",
    "price_low",
    "price_high",
    "price_missing",
    "alerts",
    *(f"page_{p.strip('/').replace('-', '_') or 'home'}" for p in PAGES),
    "question",
)
DIM = len(FEATURES)


def page_key(page: str) -> str:
    """The page without query or fragment and trailing slash ("/prices?x=1" → "/prices")."""
    path = page.split("?", 1)[0].split("#", 1)[0]
    return path.rstrip("/") or "/"


def context_vector(
    *,
    at: datetime,
    timezone: str,
    soc_pct: float | None,
    price_level: str | None,
    open_alerts: int,
    page: str,
    question: bool,
) -> Vector:
    """The feature vector in `FEATURES` order. `soc_pct` in 0..100; `price_level` low|normal|high|None."""
    local = at.astimezone(ZoneInfo(timezone))
    hour = local.hour + local.minute / 60.0
    angle = 2.0 * math.pi * hour / 24.0
    pages = [1.0 if page_key(page) == p else 0.0 for p in PAGES]
    values = [
        1.0,
        math.sin(angle),
        math.cos(angle),
        0.0 if soc_pct is None else soc_pct / 100.0,
        1.0 if soc_pct is None else 0.0,
        1.0 if price_level == "low" else 0.0,
        1.0 if price_level == "high" else 0.0,
        1.0 if price_level is None else 0.0,
        min(open_alerts, ALERTS_CAP) / ALERTS_CAP,
        *pages,
        1.0 if question else 0.0,
    ]
    return np.asarray(values, dtype=np.float64)

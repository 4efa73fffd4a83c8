"""What the tariffs domain receives from the wiring: built in `bootstrap`, never the whole `Container`.

Stored spot prices belong to the time-series domain, which imports this one (KPIs price energy with
it); so the prices chart reads them through `spot_prices`, a function the wiring passes in, and
tariffs never imports `timeseries` or `decisions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from luna_iems.settings import Settings


class SpotPrices(Protocol):
    """Stored spot prices (EUR/MWh) per 15-minute slot starting at `slots_us`; NaN where none."""

    def __call__(
        self,
        session: Session,
        *,
        slots_us: npt.NDArray[np.int64],
        market: str,
        product: str,
        ts_from: datetime,
        ts_to: datetime,
    ) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True)
class TariffsDeps:
    settings: Settings
    spot_prices: SpotPrices

"""Request and response bodies of the tariffs API (tariffs in EUR/kWh, market prices in EUR/MWh)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from luna_iems.bounds import IsoDate

MAX_TARIFF_EUR_KWH = 10.0
MAX_PEAK_CHARGE_EUR_KW_MONTH = 1_000.0
MAX_ZONES = 50


EurKwh = Annotated[float, Field(strict=True, ge=-MAX_TARIFF_EUR_KWH, le=MAX_TARIFF_EUR_KWH)]
Factor = Annotated[float, Field(strict=True, ge=-10, le=10)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FixedImportPrice(_Strict):
    kind: Literal["fixed"]
    price_eur_kwh: EurKwh = Field(description="Energy price per kWh, before grid fee and VAT")


class TouZone(_Strict):
    name: str = Field(min_length=1, max_length=50)
    days: list[Weekday] = Field(min_length=1, max_length=7, description="Weekdays in the site's calendar")
    from_hour: int = Field(strict=True, ge=0, le=23, description="First local hour (inclusive)")
    to_hour: int = Field(strict=True, ge=1, le=24, description="Last local hour (exclusive); 24: midnight")
    price_eur_kwh: EurKwh

    @model_validator(mode="after")
    def _hours_ascend(self) -> TouZone:
        if self.to_hour <= self.from_hour:
            raise ValueError(
                f"zone {self.name!r}: to_hour ({self.to_hour}) must be after from_hour ({self.from_hour}); "
                "split a zone across midnight into two zones"
            )
        return self


class TouImportPrice(_Strict):
    kind: Literal["tou"]
    zones: list[TouZone] = Field(
        min_length=1,
        max_length=MAX_ZONES,
        description="Time-of-use zones; together they must cover every hour of the week exactly once",
    )


class DynamicImportPrice(_Strict):
    kind: Literal["dynamic"]
    spot_factor: Factor = Field(
        default=1.0, description="Energy price = spot EUR/MWh / 1000 x factor + markup"
    )
    markup_eur_kwh: EurKwh = 0.0


class FixedFeedIn(_Strict):
    kind: Literal["fixed"]
    price_eur_kwh: EurKwh = Field(description="Paid per exported kWh")


class SpotFeedIn(_Strict):
    kind: Literal["spot"]
    spot_factor: Factor = Field(default=1.0, description="Paid = spot EUR/MWh / 1000 x factor + markup")
    markup_eur_kwh: EurKwh = Field(default=0.0, description="Usually negative (the marketer's fee)")


ImportPrice = Annotated[FixedImportPrice | TouImportPrice | DynamicImportPrice, Field(discriminator="kind")]
FeedIn = Annotated[FixedFeedIn | SpotFeedIn, Field(discriminator="kind")]


class TariffComponents(_Strict):
    """What a kWh costs and earns. Import EUR/kWh = (energy price + grid fee) x (1 + VAT/100); export
    EUR/kWh = the feed-in price (no VAT); peak charge = rate x (1 + VAT/100) x the month's highest
    15-minute mean import."""

    import_price: ImportPrice
    grid_fee_eur_kwh: float = Field(
        strict=True, default=0.0, ge=0, le=MAX_TARIFF_EUR_KWH, description="Network charges, levies per kWh"
    )
    vat_pct: float = Field(strict=True, default=0.0, ge=0, le=100, description="On energy, fees, peak")
    feed_in: FeedIn = Field(
        default_factory=lambda: FixedFeedIn(kind="fixed", price_eur_kwh=0.0),
        description="Default: nothing paid for export",
    )
    peak_charge_eur_kw_month: float = Field(
        strict=True,
        default=0.0,
        ge=0,
        le=MAX_PEAK_CHARGE_EUR_KW_MONTH,
        description="Capacity charge per kW of the month's highest 15-minute mean import",
    )


class TariffVersionCreate(TariffComponents):
    valid_from: IsoDate = Field(description="First day it applies, in the site's calendar (TIMEZONE)")


class TariffVersionRead(TariffComponents):
    version_id: uuid.UUID
    site: str
    valid_from: date
    created_at: datetime
    updated_at: datetime


class TariffRead(BaseModel):
    site: str
    timezone: str = Field(description="The calendar `valid_from`, zones and months are read in")
    versions: list[TariffVersionRead] = Field(description="Oldest first; empty: the default tariff")
    default: str = Field(description="What applies before the first version (and without any)")


class PriceStep(BaseModel):
    ts: datetime
    import_price_eur_kwh: float | None = Field(description="Null: a spot price it needs is missing")
    export_price_eur_kwh: float | None
    spot_eur_mwh: float | None
    valid_from: date | None = Field(description="The version in force; null: the default tariff")


class TariffPrices(BaseModel):
    site: str
    step_minutes: int
    market: str
    product: str
    steps: list[PriceStep]

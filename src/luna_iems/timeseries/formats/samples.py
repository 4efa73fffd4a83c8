"""Value objects shared by the format parsers: one meter reading, one price series.

Units and signs follow the domain conventions: power kW, energy kWh, voltage V, current A,
frequency Hz, prices EUR/MWh; grid power + = import, - = export. Timestamps are aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

IMPORT_ENERGY_TOTAL = "1-0:1.8.0"
EXPORT_ENERGY_TOTAL = "1-0:2.8.0"
IMPORT_POWER = "1-0:1.7.0"
EXPORT_POWER = "1-0:2.7.0"
TOTAL_ACTIVE_POWER = "1-0:16.7.0"
VOLTAGE_L1 = "1-0:32.7.0"
_TARIFFS = ("1", "2", "3", "4")


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One decoded meter reading.

    ts: aware UTC when the format carries a timestamp (DSMR), else None (SML, where the caller
    uses its receive time). import_kw / export_kw: instantaneous grid power in kW, both >= 0
    (import = from the grid). import_kwh_total / export_kwh_total: meter register totals in kWh.
    voltage_v: phase L1 voltage in V. obis: every numeric value decoded, keyed like "1-0:32.7.0",
    in base units kW / kWh / V / A / Hz (W and Wh are converted); values without a unit (counters,
    status words, device types) as sent; other units (m3 of gas, degrees) as sent.
    """

    ts: datetime | None
    import_kw: float | None
    export_kw: float | None
    voltage_v: float | None
    import_kwh_total: float | None
    export_kwh_total: float | None
    meter_serial: str | None
    obis: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PricePoint:
    """Price valid for [ts, ts + resolution) in EUR/MWh (may be negative); ts aware UTC."""

    ts: datetime
    price_eur_mwh: float


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Contiguous prices of one market and product, one point per `resolution_minutes` slot.

    market: bidding zone name such as "DE-LU" (or the EIC code when unknown); currency as sent
    (ENTSO-E: "EUR"); classification_sequence: the ENTSO-E auction sequence (1 = SDAC) or None.
    """

    market: str
    product: str
    resolution_minutes: int
    classification_sequence: int | None
    currency: str
    points: list[PricePoint]


def _register_total(obis: Mapping[str, Decimal], total_code: str) -> Decimal | None:
    """The total register (x.8.0), else the sum of tariff registers x.8.1..x.8.4 present."""
    if total_code in obis:
        return obis[total_code]
    prefix = total_code[:-1]
    tariffs = [obis[prefix + t] for t in _TARIFFS if prefix + t in obis]
    return sum(tariffs, Decimal(0)) if tariffs else None


def _opt(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def meter_sample_from_obis(
    obis: Mapping[str, Decimal], *, ts: datetime | None, meter_serial: str | None
) -> MeterSample:
    """Build a MeterSample from OBIS values already in base units (Decimal keeps sums exact).

    Power: 1-0:1.7.0 / 2.7.0 when present; otherwise 1-0:16.7.0 (+ import, - export) is split
    into import_kw = max(p, 0) and export_kw = max(-p, 0).
    """
    import_kw, export_kw = obis.get(IMPORT_POWER), obis.get(EXPORT_POWER)
    total = obis.get(TOTAL_ACTIVE_POWER)
    if import_kw is None and export_kw is None and total is not None:
        import_kw, export_kw = max(Decimal(0), total), max(Decimal(0), -total)
    return MeterSample(
        ts=ts,
        import_kw=_opt(import_kw),
        export_kw=_opt(export_kw),
        voltage_v=_opt(obis.get(VOLTAGE_L1)),
        import_kwh_total=_opt(_register_total(obis, IMPORT_ENERGY_TOTAL)),
        export_kwh_total=_opt(_register_total(obis, EXPORT_ENERGY_TOTAL)),
        meter_serial=meter_serial,
        obis={code: float(value) for code, value in obis.items()},
    )

"""`tariffs.pricing` against hand computations: time-of-use across both DST changes, a version change
at the site's local midnight, VAT and grid fees, negative spot prices with spot feed-in, and the peak
(capacity) charge per month, pro rata and split at a version change. Site calendar: Europe/Berlin."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from luna_iems.tariffs import pricing

TZ = "Europe/Berlin"
HOUR = timedelta(hours=1)


def us(ts: datetime) -> int:
    return int(ts.timestamp()) * 1_000_000


def steps(start: datetime, n: int, step: timedelta = HOUR) -> np.ndarray:
    return np.array([us(start + i * step) for i in range(n)], dtype=np.int64)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


DEFAULT = pricing.spot_tariff(import_markup_eur_kwh=0.15, feed_in_eur_kwh=None)
ALL_DAYS = tuple(range(7))
# night 0-6 and 22-24 at 0.10, day 6-22 at 0.30, every day of the week
ZONES = [
    pricing.Zone("night", ALL_DAYS, 0, 6, 0.10),
    pricing.Zone("day", ALL_DAYS, 6, 22, 0.30),
    pricing.Zone("late", ALL_DAYS, 22, 24, 0.10),
]


def version(valid_from: date, **fields: object) -> pricing.Tariff:
    return pricing.Tariff(valid_from_us=pricing.local_midnight_us(valid_from, TZ), **fields)  # type: ignore[arg-type]


def tou(valid_from: date = date(2026, 1, 1)) -> pricing.Tariff:
    return version(valid_from, import_kind="tou", tou_eur_kwh=pricing.tou_grid(ZONES), feed_in_kind="fixed")


def test_tou_zones_follow_local_time_across_spring_forward() -> None:
    # 05:00Z is 06:00 CET on Saturday 28 March (day) but 07:00 CEST on Sunday 29 March; 04:00Z is
    # 05:00 CET (night) on the Saturday and 06:00 CEST (day) on the Sunday, after the clocks moved.
    ts = np.concatenate([steps(utc(2026, 3, 28, 4), 2), steps(utc(2026, 3, 29, 4), 2)])
    imports, exports = pricing.step_prices(ts_us=ts, spot_eur_mwh=None, tariffs=[DEFAULT, tou()], timezone=TZ)
    assert imports.tolist() == pytest.approx([0.10, 0.30, 0.30, 0.30])
    assert exports.tolist() == [0.0] * 4  # fixed feed-in 0: no spot price needed
    # 21:00Z: 22:00 CET (late) before, 23:00 CEST (late) after; 20:00Z: 21:00 CET (day), 22:00 CEST (late)
    evening = np.concatenate([steps(utc(2026, 3, 28, 20), 1), steps(utc(2026, 3, 29, 20), 1)])
    imports, _ = pricing.step_prices(ts_us=evening, spot_eur_mwh=None, tariffs=[DEFAULT, tou()], timezone=TZ)
    assert imports.tolist() == pytest.approx([0.30, 0.10])


def test_tou_repeated_hour_at_fall_back_keeps_its_zone() -> None:
    # 25 October 2026: 00:00Z is 02:00 CEST, 01:00Z is 02:00 CET (the hour repeats), 05:00Z is 06:00 CET.
    ts = steps(utc(2026, 10, 25, 0), 6, timedelta(minutes=30))  # 00:00Z .. 02:30Z
    imports, _ = pricing.step_prices(ts_us=ts, spot_eur_mwh=None, tariffs=[DEFAULT, tou()], timezone=TZ)
    assert imports.tolist() == pytest.approx([0.10] * 6)
    imports, _ = pricing.step_prices(
        ts_us=steps(utc(2026, 10, 25, 4), 2), spot_eur_mwh=None, tariffs=[DEFAULT, tou()], timezone=TZ
    )
    assert imports.tolist() == pytest.approx([0.10, 0.30])  # 05:00 CET night, 06:00 CET day


def test_weekday_sets_in_local_time() -> None:
    weekend = pricing.Zone("weekend", (5, 6), 0, 24, 0.05)
    week = pricing.Zone("week", (0, 1, 2, 3, 4), 0, 24, 0.25)
    tariff = version(date(2026, 1, 1), import_kind="tou", tou_eur_kwh=pricing.tou_grid([weekend, week]))
    # Sunday 1 Feb 2026 23:00Z is Monday 00:00 CET; 22:00Z is still Sunday 23:00 CET.
    ts = steps(utc(2026, 2, 1, 22), 2)
    imports, _ = pricing.step_prices(
        ts_us=ts, spot_eur_mwh=np.array([80.0, 80.0]), tariffs=[DEFAULT, tariff], timezone=TZ
    )
    assert imports.tolist() == pytest.approx([0.05, 0.25])


def test_coverage_errors_name_every_gap_and_overlap() -> None:
    zones = [
        pricing.Zone("day", (0, 1, 2, 3, 4, 5, 6), 7, 24, 0.3),
        pricing.Zone("night", (1, 2, 3, 4, 5, 6), 0, 7, 0.1),  # Monday 00-07 missing
        pricing.Zone("peak", (1,), 17, 19, 0.5),  # overlaps "day" on Tuesday 17-19
    ]
    with pytest.raises(pricing.CoverageError) as caught:
        pricing.tou_grid(zones)
    assert caught.value.gaps == ["mon 00:00-07:00"]
    assert caught.value.overlaps == ["tue 17:00-19:00 (day, peak)"]
    assert "mon 00:00-07:00" in str(caught.value) and "tue 17:00-19:00" in str(caught.value)


def test_a_version_applies_from_the_local_midnight_of_its_date() -> None:
    january = version(date(2026, 1, 1), import_kind="fixed", import_eur_kwh=0.20, feed_in_kind="fixed")
    february = version(date(2026, 2, 1), import_kind="fixed", import_eur_kwh=0.30, feed_in_kind="fixed")
    # 22:00Z on 31 January is 23:00 CET (January); 23:00Z is 1 February 00:00 CET (February).
    ts = np.concatenate([steps(utc(2025, 12, 31, 22), 2), steps(utc(2026, 1, 31, 22), 3)])
    spot = np.array([120.0, 130.0, 0, 0, 0])
    imports, exports = pricing.step_prices(
        ts_us=ts, spot_eur_mwh=spot, tariffs=[DEFAULT, january, february], timezone=TZ
    )
    # before the first version: the default (spot + 0.15 markup, spot feed-in)
    assert imports.tolist() == pytest.approx([0.27, 0.20, 0.20, 0.30, 0.30])
    assert exports.tolist() == pytest.approx([0.12, 0.0, 0.0, 0.0, 0.0])


def test_vat_applies_to_energy_price_and_grid_fee_not_to_feed_in() -> None:
    fixed = version(
        date(2026, 1, 1), import_kind="fixed", import_eur_kwh=0.20, grid_fee_eur_kwh=0.10, vat_pct=19,
        feed_in_kind="fixed", feed_in_eur_kwh=0.08,
    )  # fmt: skip
    dynamic = version(
        date(2026, 2, 1), import_kind="dynamic", spot_factor=1.0, markup_eur_kwh=0.02, grid_fee_eur_kwh=0.10,
        vat_pct=19, feed_in_kind="fixed", feed_in_eur_kwh=0.08,
    )  # fmt: skip
    ts = np.array([us(utc(2026, 1, 15, 12)), us(utc(2026, 2, 15, 12))], dtype=np.int64)
    imports, exports = pricing.step_prices(
        ts_us=ts, spot_eur_mwh=np.array([999.0, 100.0]), tariffs=[DEFAULT, fixed, dynamic], timezone=TZ
    )
    assert imports.tolist() == pytest.approx([(0.20 + 0.10) * 1.19, (0.100 + 0.02 + 0.10) * 1.19])
    assert exports.tolist() == pytest.approx([0.08, 0.08])


def test_negative_spot_with_spot_feed_in() -> None:
    tariff = version(
        date(2026, 1, 1), import_kind="dynamic", spot_factor=1.0, markup_eur_kwh=0.10,
        feed_in_kind="spot", feed_in_spot_factor=1.0, feed_in_markup_eur_kwh=-0.005,
    )  # fmt: skip
    ts = steps(utc(2026, 5, 10, 11), 3)
    imports, exports = pricing.step_prices(
        ts_us=ts, spot_eur_mwh=np.array([-50.0, np.nan, 20.0]), tariffs=[DEFAULT, tariff], timezone=TZ
    )
    assert imports[0] == pytest.approx(0.05) and imports[2] == pytest.approx(0.12)
    assert exports[0] == pytest.approx(-0.055) and exports[2] == pytest.approx(0.015)  # exporting costs
    assert np.isnan(imports[1]) and np.isnan(exports[1])  # a missing spot price is not invented


def test_peak_charge_is_monthly_pro_rata_and_includes_vat() -> None:
    tariff = version(date(2026, 1, 1), import_kind="fixed", peak_charge_eur_kw_month=10.0, vat_pct=20)
    tariffs = [DEFAULT, tariff]
    march = pricing.local_midnight_us(date(2026, 3, 1), TZ)
    april = pricing.local_midnight_us(date(2026, 4, 1), TZ)
    assert (april - march) / 3_600_000_000 == 743  # March loses an hour to DST
    ts = steps(utc(2026, 2, 28, 23), 743)  # every hour of March (local)
    load = np.full(743, 5.0)
    load[100], load[500] = 40.0, np.nan  # a 40 kW quarter-hour; a gap never sets a peak
    charge, parts = pricing.peak_charge(
        ts_us=ts, import_kw=load, ts_from_us=march, ts_to_us=april, tariffs=tariffs, timezone=TZ
    )
    assert charge == pytest.approx(10.0 * 1.2 * 40.0)
    assert [p.peak_import_kw for p in parts] == [40.0]
    # the first week: 168 of March's 743 hours, peak 40 kW
    week = march + 168 * 3_600_000_000
    charge, _ = pricing.peak_charge(
        ts_us=ts, import_kw=load, ts_from_us=march, ts_to_us=week, tariffs=tariffs, timezone=TZ
    )
    assert charge == pytest.approx(10.0 * 1.2 * 40.0 * 168 / 743)
    # no stored tariff: no peak charge (today's behaviour)
    assert (
        pricing.peak_charge(
            ts_us=ts, import_kw=load, ts_from_us=march, ts_to_us=april, tariffs=[DEFAULT], timezone=TZ
        )[0]
        == 0.0
    )


def test_peak_charge_splits_at_a_version_change_and_a_month_end() -> None:
    first = version(date(2026, 1, 1), import_kind="fixed", peak_charge_eur_kw_month=10.0)
    second = version(date(2026, 3, 16), import_kind="fixed", peak_charge_eur_kw_month=20.0)
    start = pricing.local_midnight_us(date(2026, 2, 15), TZ)
    end = pricing.local_midnight_us(date(2026, 4, 1), TZ)
    ts = np.arange(start, end, 3_600_000_000, dtype=np.int64)
    load = np.full(ts.size, 1.0)
    load[ts < pricing.local_midnight_us(date(2026, 3, 1), TZ)] = 30.0  # February's part
    load[(ts >= pricing.local_midnight_us(date(2026, 3, 10), TZ)) & (ts < second.valid_from_us)] = 50.0
    load[ts == second.valid_from_us] = 8.0
    charge, parts = pricing.peak_charge(
        ts_us=ts,
        import_kw=load,
        ts_from_us=start,
        ts_to_us=end,
        tariffs=[DEFAULT, first, second],
        timezone=TZ,
    )
    feb = 10.0 * 30.0 * (14 * 24) / (28 * 24)  # 15-28 February: half of February
    mar_first = 10.0 * 50.0 * (15 * 24) / 743  # 1-15 March, before the new version
    mar_second = 20.0 * 8.0 * (743 - 15 * 24) / 743  # 16-31 March (DST on the 29th: 383 h)
    assert [round(p.peak_import_kw, 3) for p in parts] == [30.0, 50.0, 8.0]
    assert charge == pytest.approx(feb + mar_first + mar_second)

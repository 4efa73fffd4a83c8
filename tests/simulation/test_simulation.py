"""Simulation of smart meters and day-ahead prices: determinism, physics, calendar, prices, H25 fidelity
and configuration. A year at 15 minutes is 35,040 steps and takes well under a second here."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pvlib
import pytest
import yaml
from pydantic import ValidationError

from luna_iems.energy import calendar as energy_calendar
from luna_iems.simulation import config as sim_config
from luna_iems.simulation import profiles
from luna_iems.simulation.config import MeterProfile, PvSpec, SimConfig, load_sim_config
from luna_iems.simulation.fidelity import FIDELITY_TARGET_R, h25_fidelity, household_h25_fidelity, minimum_r
from luna_iems.simulation.meters import SimulatedReadings, expected_consumption_kw, simulate_meter, time_grid
from luna_iems.simulation.prices import SimulatedPrices, simulate_prices

REPO_ROOT = Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")
LAT, LON = 52.52, 13.405
YEAR = 2025
YEAR_START = datetime(YEAR, 1, 1, tzinfo=BERLIN)
YEAR_END = datetime(YEAR + 1, 1, 1, tzinfo=BERLIN)


@pytest.fixture(scope="module")
def cfg() -> SimConfig:
    return load_sim_config(REPO_ROOT / "config" / "sim.yml")


def year_of(profile: MeterProfile, *, meter_id: str = "m-1", seed: int = 7) -> SimulatedReadings:
    return simulate_meter(
        meter_id=meter_id, profile=profile, start=YEAR_START, end=YEAR_END, seed=seed, lat=LAT, lon=LON
    )


def local_fields(ts: np.ndarray) -> energy_calendar.LocalCalendar:
    return energy_calendar.local_calendar(ts.astype("datetime64[m]").astype(np.int64), "Europe/Berlin")


@pytest.fixture(scope="module")
def household_year(cfg: SimConfig) -> SimulatedReadings:
    return year_of(cfg.profile("household"))


@pytest.fixture(scope="module")
def pv_year(cfg: SimConfig) -> SimulatedReadings:
    return year_of(cfg.profile("household_pv"), meter_id="pv-1")


@pytest.fixture(scope="module")
def prices_year(cfg: SimConfig) -> SimulatedPrices:
    return simulate_prices(spec=cfg.prices, start=YEAR_START, end=YEAR_END, seed=cfg.seed, lat=LAT, lon=LON)


def assert_readings_equal(a: SimulatedReadings, b: SimulatedReadings) -> None:
    np.testing.assert_array_equal(a.ts, b.ts)
    for field in ("consumption_kw", "production_kw", "voltage"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    np.testing.assert_array_equal(a.quality, b.quality)


# --- determinism ---------------------------------------------------------------------------------------


def test_same_seed_gives_identical_arrays_and_another_seed_differs(cfg: SimConfig) -> None:
    profile = cfg.profile("household_pv")
    start, end = datetime(2025, 6, 1, tzinfo=BERLIN), datetime(2025, 6, 8, tzinfo=BERLIN)
    kwargs = {"meter_id": "hh-7", "profile": profile, "start": start, "end": end, "lat": LAT, "lon": LON}
    first, again = simulate_meter(seed=1, **kwargs), simulate_meter(seed=1, **kwargs)
    assert_readings_equal(first, again)
    other = simulate_meter(seed=2, **kwargs)
    assert not np.array_equal(first.consumption_kw, other.consumption_kw, equal_nan=True)
    assert not np.array_equal(first.production_kw, other.production_kw, equal_nan=True)
    other_meter = simulate_meter(seed=1, **{**kwargs, "meter_id": "hh-8"})
    assert not np.array_equal(first.consumption_kw, other_meter.consumption_kw, equal_nan=True)


_CHECKSUM_SCRIPT = """
from datetime import datetime
from zoneinfo import ZoneInfo
import numpy as np
from luna_iems.simulation.config import load_sim_config
from luna_iems.simulation.meters import simulate_meter
cfg = load_sim_config()
tz = ZoneInfo("Europe/Berlin")
r = simulate_meter(meter_id="hh-7", profile=cfg.profile("household_pv"), start=datetime(2025, 6, 1, tzinfo=tz),
                   end=datetime(2025, 6, 3, tzinfo=tz), seed=1, lat=52.52, lon=13.405)
print(float(np.nansum(r.consumption_kw) + np.nansum(r.production_kw) + np.nansum(r.voltage)).hex())
"""


def test_values_do_not_depend_on_the_process_hash_seed() -> None:
    """Python's str hash is salted per process: the meter-id hash must not be (crc32 is stable)."""
    outputs = {
        subprocess.run(
            [sys.executable, "-c", _CHECKSUM_SCRIPT],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert len(outputs) == 1


@pytest.mark.parametrize("step_minutes", [5, 15, 60])
def test_backfilling_in_pieces_equals_one_window(cfg: SimConfig, step_minutes: int) -> None:
    profile = cfg.profile("household_pv").model_copy(update={"outage_rate": 0.05})
    a = datetime(2025, 7, 1, tzinfo=BERLIN)
    b = datetime(2025, 7, 2, 13, 0, tzinfo=BERLIN)  # split in the middle of a sunny afternoon
    c = datetime(2025, 7, 4, tzinfo=BERLIN)

    def run(start: datetime, end: datetime) -> SimulatedReadings:
        return simulate_meter(
            meter_id="bf",
            profile=profile,
            start=start,
            end=end,
            step_minutes=step_minutes,
            seed=3,
            lat=LAT,
            lon=LON,
        )

    whole, first, second = run(a, c), run(a, b), run(b, c)
    joined = SimulatedReadings(
        meter_id="bf",
        ts=np.concatenate([first.ts, second.ts]),
        consumption_kw=np.concatenate([first.consumption_kw, second.consumption_kw]),
        production_kw=np.concatenate([first.production_kw, second.production_kw]),
        voltage=np.concatenate([first.voltage, second.voltage]),
        quality=np.concatenate([first.quality, second.quality]),
    )
    assert len(whole) == 3 * 24 * 60 // step_minutes
    assert_readings_equal(whole, joined)


def test_time_grid_is_utc_aligned_half_open_and_rejects_naive_datetimes(cfg: SimConfig) -> None:
    start = datetime(2025, 3, 30, 0, 7, tzinfo=BERLIN)  # the spring DST day: 23 local hours
    end = datetime(2025, 3, 31, tzinfo=BERLIN)
    readings = simulate_meter(
        meter_id="g", profile=cfg.profile("household"), start=start, end=end, seed=1, lat=LAT, lon=LON
    )
    assert readings.ts.dtype == np.dtype("datetime64[us]")
    assert readings.ts[0] == np.datetime64("2025-03-29T23:15")  # first quarter-hour at or after start (UTC)
    assert readings.ts[-1] == np.datetime64("2025-03-30T21:45")
    with pytest.raises(ValueError, match="timezone-aware"):
        time_grid(datetime(2025, 1, 1), datetime(2025, 1, 2), 15)
    with pytest.raises(ValueError, match="step_minutes"):
        simulate_meter(
            meter_id="g",
            profile=cfg.profile("household"),
            start=start,
            end=end,
            step_minutes=7,
            seed=1,
            lat=LAT,
            lon=LON,
        )


# --- consumption, outages, voltage ---------------------------------------------------------------------


def test_outages_are_missing_with_nan_values_at_about_the_outage_rate(cfg: SimConfig) -> None:
    rate = 0.02
    readings = year_of(cfg.profile("household_pv").model_copy(update={"outage_rate": rate}))
    missing = readings.quality == "missing"
    assert set(np.unique(readings.quality)) == {"ok", "missing"}
    for values in (readings.consumption_kw, readings.production_kw, readings.voltage):
        assert np.isnan(values[missing]).all()
        assert not np.isnan(values[~missing]).any()
    n = missing.size
    sigma = np.sqrt(rate * (1 - rate) / n)
    assert abs(missing.mean() - rate) < 4 * sigma, f"missing share {missing.mean():.4f} vs outage_rate {rate}"


def test_household_annual_energy_is_within_ten_percent_of_annual_kwh(
    cfg: SimConfig, household_year: SimulatedReadings
) -> None:
    profile = cfg.profile("household")
    hours = (YEAR_END - YEAR_START) / timedelta(hours=1)
    energy_kwh = float(np.nanmean(household_year.consumption_kw)) * hours  # missing steps at the mean
    assert abs(energy_kwh / profile.annual_kwh - 1) < 0.10, f"{energy_kwh:.0f} kWh vs {profile.annual_kwh}"


def test_h25_normalisation_gives_one_kwh_over_the_reference_year(cfg: SimConfig) -> None:
    unit = cfg.profile("household").model_copy(update={"annual_kwh": 1.0})
    minutes = time_grid(YEAR_START, YEAR_END, 15)
    energy = expected_consumption_kw(profile=unit, epoch_minutes=minutes, timezone="Europe/Berlin").sum() / 4
    assert energy == pytest.approx(1.0, abs=0.002)  # DST days add/remove one local hour
    shape = profiles.h25_shape(1, "WT")
    assert shape.shape == (96,)
    assert (shape > 0).all()


def test_commercial_weekend_level_follows_weekend_factor(cfg: SimConfig) -> None:
    profile = cfg.profile("commercial")
    readings = year_of(profile, meter_id="c-1")
    calendar = local_fields(readings.ts)
    weekday = (calendar.day_type == energy_calendar.WT) & (calendar.weekday < 5)
    weekend = calendar.weekday >= 5
    ratio = np.nanmean(readings.consumption_kw[weekend]) / np.nanmean(readings.consumption_kw[weekday])
    assert ratio == pytest.approx(profile.weekend_factor, rel=0.05)
    # and the office plateau: weekday 10:00-16:00 well above weekday nights
    hour = calendar.minute_of_day // 60
    day = np.nanmean(readings.consumption_kw[weekday & (hour >= 10) & (hour < 16)])
    night = np.nanmean(readings.consumption_kw[weekday & (hour < 5)])
    assert day > 2.5 * night


def test_industrial_profile_has_a_high_load_factor(cfg: SimConfig) -> None:
    readings = year_of(cfg.profile("industrial"), meter_id="i-1")
    consumption = readings.consumption_kw
    load_factor = np.nanmean(consumption) / np.nanmax(consumption)
    assert 0.5 < load_factor < 0.9


def test_voltage_stays_within_the_en50160_band(household_year: SimulatedReadings) -> None:
    voltage = household_year.voltage[household_year.quality == "ok"]
    assert voltage.min() >= 207.0
    assert voltage.max() <= 253.0
    assert np.mean(voltage) == pytest.approx(230.0, abs=0.5)


# --- PV ------------------------------------------------------------------------------------------------


def test_no_pv_production_while_the_sun_is_below_the_horizon(pv_year: SimulatedReadings) -> None:
    seconds = pv_year.ts.astype("datetime64[s]").astype(np.int64).astype(float)
    elevation_at = [
        pvlib.spa.solar_position(seconds + shift, LAT, LON, 34.0, 1013.25, 12.0, 69.0, 0.5667)[3]
        for shift in (0.0, 900.0)
    ]
    night = (elevation_at[0] < 0) & (elevation_at[1] < 0)
    ok = pv_year.quality == "ok"
    assert night.sum() > 10_000
    assert (pv_year.production_kw[night & ok] == 0).all()
    assert (pv_year.production_kw[ok] >= 0).all()


def test_pv_summer_noon_far_exceeds_winter_noon(pv_year: SimulatedReadings) -> None:
    calendar = local_fields(pv_year.ts)
    noon = (calendar.minute_of_day >= 11 * 60) & (calendar.minute_of_day < 14 * 60)
    june = np.nanmean(pv_year.production_kw[noon & (calendar.month == 6)])
    december = np.nanmean(pv_year.production_kw[noon & (calendar.month == 12)])
    assert june > 3 * december > 0


def test_pv_yearly_yield_per_kwp_is_plausible_for_berlin(cfg: SimConfig, pv_year: SimulatedReadings) -> None:
    pv = cfg.profile("household_pv").pv
    assert isinstance(pv, PvSpec)
    hours = (YEAR_END - YEAR_START) / timedelta(hours=1)
    yield_kwh_per_kwp = float(np.nanmean(pv_year.production_kw)) * hours / pv.pv_kwp
    assert 800 <= yield_kwh_per_kwp <= 1200, f"{yield_kwh_per_kwp:.0f} kWh/kWp/yr"


# --- prices --------------------------------------------------------------------------------------------


def test_negative_prices_on_some_summer_middays_but_never_in_winter(prices_year: SimulatedPrices) -> None:
    calendar = local_fields(prices_year.ts)
    negative = prices_year.price_eur_mwh < 0
    midday = (calendar.minute_of_day >= 10 * 60) & (calendar.minute_of_day < 16 * 60)
    summer = np.isin(calendar.month, (5, 6, 7, 8))
    winter = np.isin(calendar.month, (12, 1, 2))
    negative_summer_days = np.unique(calendar.date[negative & summer & midday])
    assert 5 <= negative_summer_days.size < 0.9 * 123, (
        f"{negative_summer_days.size} summer days with negatives"
    )
    assert not negative[winter].any()
    daylight = (calendar.minute_of_day >= 8 * 60) & (calendar.minute_of_day < 18 * 60)
    assert not negative[~daylight].any()


def test_price_levels_evening_peak_and_weekend(prices_year: SimulatedPrices) -> None:
    calendar = local_fields(prices_year.ts)
    price = prices_year.price_eur_mwh
    hour = calendar.minute_of_day // 60
    evening = price[(hour >= 18) & (hour < 21)].mean()
    night = price[(hour >= 1) & (hour < 4)].mean()
    assert evening > night + 20
    weekday, weekend = (
        price[calendar.day_type == energy_calendar.WT].mean(),
        price[calendar.weekday >= 5].mean(),
    )
    assert weekend < weekday
    winter = price[np.isin(calendar.month, (12, 1, 2))].mean()
    summer = price[np.isin(calendar.month, (6, 7, 8))].mean()
    assert winter > summer
    assert price.max() < 4000 and price.min() > -500


def test_hourly_prices_are_the_mean_of_their_quarter_hours(cfg: SimConfig) -> None:
    start, end = datetime(2025, 10, 1, tzinfo=BERLIN), datetime(2025, 10, 4, tzinfo=BERLIN)
    kwargs = {"spec": cfg.prices, "start": start, "end": end, "seed": 5, "lat": LAT, "lon": LON}
    quarter = simulate_prices(step_minutes=15, **kwargs)
    hourly = simulate_prices(step_minutes=60, **kwargs)
    assert (quarter.market, quarter.product) == ("DE-LU", "day_ahead")
    assert len(quarter) == 4 * len(hourly) == 4 * 72
    np.testing.assert_allclose(hourly.price_eur_mwh, quarter.price_eur_mwh.reshape(-1, 4).mean(axis=1))
    np.testing.assert_array_equal(hourly.ts, quarter.ts[::4])
    again = simulate_prices(step_minutes=15, **kwargs)
    np.testing.assert_array_equal(again.price_eur_mwh, quarter.price_eur_mwh)
    other = simulate_prices(step_minutes=15, **{**kwargs, "seed": 6})
    assert not np.array_equal(other.price_eur_mwh, quarter.price_eur_mwh)


# --- calendar and H25 fidelity -------------------------------------------------------------------------


def test_bdew_day_types() -> None:
    dates = np.array(
        ["2025-04-18", "2025-04-19", "2025-04-20", "2025-04-22", "2025-12-24", "2025-12-31", "2023-12-24"],
        dtype="datetime64[D]",
    )
    # Good Friday, Saturday, Easter Sunday, Tuesday, Christmas Eve (Wed), New Year's Eve (Wed), a Sunday
    assert [energy_calendar.DAY_TYPES[k] for k in energy_calendar.day_types(dates)] == [
        "FT",
        "SA",
        "FT",
        "WT",
        "SA",
        "SA",
        "FT",
    ]


def test_household_follows_h25_in_every_month_and_day_type(household_year: SimulatedReadings) -> None:
    fidelity = h25_fidelity(household_year)
    assert sorted(fidelity) == list(range(1, 13))
    assert all(sorted(by_type) == ["FT", "SA", "WT"] for by_type in fidelity.values())
    worst = minimum_r(fidelity)
    table = {month: round(min(by_type.values()), 3) for month, by_type in fidelity.items()}
    assert worst >= FIDELITY_TARGET_R, f"minimum r = {worst:.4f} (min per month: {table})"


def test_household_fidelity_helper_matches_for_another_year(cfg: SimConfig) -> None:
    fidelity = household_h25_fidelity(profile=cfg.profile("household"), year=2024, seed=11, lat=LAT, lon=LON)
    assert minimum_r(fidelity) >= FIDELITY_TARGET_R, f"minimum r = {minimum_r(fidelity):.4f}"


# --- configuration -------------------------------------------------------------------------------------


def test_shipped_package_copy_equals_config_sim_yml() -> None:
    shipped = REPO_ROOT / "src" / "luna_iems" / "simulation" / "data" / "sim.yml"
    assert shipped.read_bytes() == (REPO_ROOT / "config" / "sim.yml").read_bytes(), (
        "copy config/sim.yml to src/luna_iems/simulation/data/sim.yml"
    )


def test_default_config_comes_from_the_current_directory_or_package_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    packaged = load_sim_config()
    assert packaged.step_minutes == 15
    assert packaged.live_interval_s == 5
    assert packaged.timezone == "Europe/Berlin"
    assert (packaged.site.lat, packaged.site.lon) == (52.52, 13.405)
    assert {"household", "commercial", "industrial"} <= {p.name for p in packaged.profiles}
    assert packaged.profile("household").annual_kwh == 3500
    assert packaged.prices.market == "DE-LU"
    (tmp_path / "config").mkdir()
    data = yaml.safe_load((REPO_ROOT / "config" / "sim.yml").read_text(encoding="utf-8"))
    data["seed"] = 99
    (tmp_path / "config" / "sim.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_sim_config().seed == 99


def _invalid(tmp_path: Path, mutate: object) -> ValidationError:
    data = yaml.safe_load((REPO_ROOT / "config" / "sim.yml").read_text(encoding="utf-8"))
    assert callable(mutate)
    mutate(data)
    path = tmp_path / "sim.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValidationError) as excinfo:
        load_sim_config(path)
    return excinfo.value


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(live_interval_s=10), "live_interval_s"),
        (lambda d: d.update(step_minutes=7), "step_minutes"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone"),
        (lambda d: d["profiles"][0].update(outage_rate=1.5), "outage_rate"),
        (lambda d: d["profiles"][1]["pv"].update(tilt=120), "tilt"),
        (lambda d: d["profiles"][0].update(nosie=0.1), "nosie"),
        (lambda d: d["prices"].update(step_minutes=5), "step_minutes"),
        (lambda d: d["meters"][0].update(profile="nope"), "meters.0.profile"),
    ],
)
def test_invalid_config_errors_name_the_field(tmp_path: Path, mutate: object, field: str) -> None:
    error = _invalid(tmp_path, mutate)
    assert field in str(error)


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_sim_config(tmp_path / "absent.yml")
    assert Path("config/sim.yml") == sim_config.DEFAULT_CONFIG_PATH

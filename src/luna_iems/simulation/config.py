"""Typed simulation configuration (`config/sim.yml`): meter templates, the site and the price model.

Every model forbids unknown keys, so a typo in the YAML is an error that names the field, not a
silently ignored setting. Units: power kW, energy kWh, prices EUR/MWh, voltage V, angles in degrees.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_CONFIG_PATH = Path("config/sim.yml")
PACKAGE_CONFIG_NAME = "data/sim.yml"

ShapeName = Literal["bdew_h25", "commercial", "industrial_two_shift", "industrial_three_shift"]


def check_step_minutes(step_minutes: int) -> int:
    """Accept steps that tile an hour and nest with quarter-hours (1, 3, 5, 15, 30, 60 minutes).

    Quarter-hour load shapes are then either held constant over shorter steps or averaged over longer
    ones, so a value stays the mean power over `[t, t + step)`.
    """
    if step_minutes < 1 or 60 % step_minutes or (15 % step_minutes and step_minutes % 15):
        raise ValueError(f"step_minutes must be one of 1, 3, 5, 15, 30, 60 (got {step_minutes})")
    return step_minutes


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteSpec(_Model):
    """Default location of simulated meters (WGS84 degrees)."""

    lat: float = Field(default=52.52, ge=-90, le=90)
    lon: float = Field(default=13.405, ge=-180, le=180)


class VoltageSpec(_Model):
    """Phase voltage L1: normal around `mean` with `std`, clipped to the EN 50160 band 230 V ± 10 %."""

    mean: float = Field(default=230.0, ge=207, le=253)
    std: float = Field(default=2.0, ge=0, le=10)


class CloudinessSpec(_Model):
    """Clear-sky index kc (actual / clear-sky irradiance) as an AR(1) process, clipped to [0.05, 1].

    `mean` is the process mean before clipping, `std` its stationary standard deviation and
    `persistence` the lag-1 autocorrelation per 15 minutes (scaled to other steps as persistence^(step/15)).
    The mean follows the season: mean * (1 - seasonal_amplitude·cos(2π(doy - 15)/365.25)), cloudier in
    winter as in Central Europe. The process restarts from its stationary distribution at every solar
    midnight, when PV is zero.
    """

    mean: float = Field(default=0.55, ge=0.05, le=1)
    persistence: float = Field(default=0.97, ge=0, lt=1)
    std: float = Field(default=0.3, ge=0, le=1)
    seasonal_amplitude: float = Field(default=0.3, ge=0, le=0.5)


class PvSpec(_Model):
    """A PV array: peak power, orientation (pvlib convention: azimuth 180 = south) and losses."""

    pv_kwp: float = Field(gt=0, le=1_000_000)
    tilt: float = Field(default=35.0, ge=0, le=90)
    azimuth: float = Field(default=180.0, ge=0, lt=360)
    performance_ratio: float = Field(default=0.85, gt=0, le=1)
    cloudiness: CloudinessSpec = CloudinessSpec()


class MeterProfile(_Model):
    """A meter template: load shape, level, randomness and optional PV.

    Consumption = annual_kwh * scale * shape(local quarter-hour, month, day type) * day-type factor *
    seasonal factor * (1 + noise·N(0, 1)). `weekend_factor` multiplies Saturdays, Sundays and holidays
    relative to working days and the profile is renormalised over a typical year (250 working days),
    so the annual energy stays `annual_kwh`; the seasonal factor is
    1 + seasonal_amplitude·cos(2π(doy - 15)/365.25) (winter higher). For `bdew_h25` both are on top of
    H25, which already has its own day types, monthly shapes and dynamisation: keep 1.0 and 0.0 there
    to follow H25.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=50)
    shape: ShapeName
    annual_kwh: float = Field(gt=0)
    noise: float = Field(default=0.1, ge=0, le=1)
    weekend_factor: float = Field(default=1.0, gt=0, le=3)
    seasonal_amplitude: float = Field(default=0.0, ge=0, lt=1)
    outage_rate: float = Field(default=0.0, ge=0, le=1)
    voltage: VoltageSpec = VoltageSpec()
    pv: PvSpec | None = None


class MeterSpec(_Model):
    """One simulated meter: an id, the template it follows and a size factor for all its powers."""

    meter_id: str = Field(min_length=1, max_length=100)
    profile: str
    scale: float = Field(default=1.0, gt=0)


class PriceSpec(_Model):
    """Day-ahead price model (EUR/MWh); the curve is built per quarter-hour in local time.

    price = level * (base + morning peak + evening peak) - solar dip + noise + spikes, where level is the
    seasonal factor 1 + seasonal_amplitude·cos(2π(doy - 15)/365.25) times `weekend_factor` on Saturdays,
    Sundays and holidays; the solar dip is `solar_dip_eur_mwh` * clear-sky GHI / 1000 W/m² * the day's
    sunshine (random in [0.15, 1]), so sunny summer middays can go negative. Spikes: with
    `spike_probability` per quarter-hour, + spike_eur_mwh * U(0.5, 1.5). Clipped to the SDAC limits.
    """

    market: str = Field(default="DE-LU", min_length=1, max_length=50)
    product: str = Field(default="day_ahead", min_length=1, max_length=50)
    step_minutes: Literal[15, 60] = 15
    base_eur_mwh: float = Field(default=85.0, ge=-500, le=4000)
    morning_peak_eur_mwh: float = Field(default=30.0, ge=0)
    morning_peak_hour: float = Field(default=8.0, ge=0, lt=24)
    evening_peak_eur_mwh: float = Field(default=50.0, ge=0)
    evening_peak_hour: float = Field(default=19.5, ge=0, lt=24)
    solar_dip_eur_mwh: float = Field(default=150.0, ge=0)
    weekend_factor: float = Field(default=0.85, gt=0, le=2)
    seasonal_amplitude: float = Field(default=0.2, ge=0, lt=1)
    noise_std_eur_mwh: float = Field(default=5.0, ge=0)
    spike_probability: float = Field(default=0.002, ge=0, le=1)
    spike_eur_mwh: float = Field(default=150.0, ge=0)


class SimConfig(_Model):
    """The whole simulation configuration; see `config/sim.yml` for the documented defaults."""

    seed: int = Field(default=0, ge=0)
    step_minutes: int = 15
    live_interval_s: int = Field(default=5, ge=1, le=5)
    timezone: str = "Europe/Berlin"
    site: SiteSpec = SiteSpec()
    profiles: list[MeterProfile] = Field(min_length=1)
    meters: list[MeterSpec] = Field(default_factory=list)
    prices: PriceSpec = PriceSpec()

    @field_validator("step_minutes")
    @classmethod
    def _step(cls, value: int) -> int:
        return check_step_minutes(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _references(self) -> SimConfig:
        names = [profile.name for profile in self.profiles]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"profiles: duplicate name(s) {duplicates}")
        ids = [meter.meter_id for meter in self.meters]
        duplicate_ids = sorted({meter_id for meter_id in ids if ids.count(meter_id) > 1})
        if duplicate_ids:
            raise ValueError(f"meters: duplicate meter_id(s) {duplicate_ids}")
        for index, meter in enumerate(self.meters):
            if meter.profile not in names:
                raise ValueError(
                    f"meters.{index}.profile: unknown profile {meter.profile!r} (known: {sorted(names)})"
                )
        return self

    def profile(self, name: str) -> MeterProfile:
        """The profile called `name`; KeyError naming the known profiles otherwise."""
        for profile in self.profiles:
            if profile.name == name:
                return profile
        raise KeyError(f"unknown profile {name!r} (known: {sorted(p.name for p in self.profiles)})")


def load_sim_config(path: Path | None = None) -> SimConfig:
    """Read and validate the simulation configuration.

    Without `path`: `config/sim.yml` relative to the current directory if it exists, else the copy
    shipped as package data. Raises `pydantic.ValidationError` (naming the field) for invalid content,
    `ValueError` if the YAML is not a mapping, `FileNotFoundError` for a missing explicit path.
    """
    if path is None and DEFAULT_CONFIG_PATH.is_file():
        path = DEFAULT_CONFIG_PATH
    if path is None:
        text = resources.files("luna_iems.simulation").joinpath(PACKAGE_CONFIG_NAME).read_text("utf-8")
        source = f"package data luna_iems.simulation/{PACKAGE_CONFIG_NAME}"
    else:
        text = path.read_text(encoding="utf-8")
        source = str(path)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    return SimConfig.model_validate(data)

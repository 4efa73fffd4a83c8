"""Anomaly detection on meter series (`luna_iems.decisions.anomalies`), on series from the project's
simulator (`simulate_meter` with the shipped config/sim.yml), rounded to 1 W as a DSMR meter reports.

Anomalies are written into the simulated series by hand where a test needs an exact span, and by the
benchmark's `inject` helper for the end-to-end check.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pytest
from benchmarks.anomalies import KINDS, InjectedAnomaly, inject

from luna_iems.decisions.anomalies import detect
from luna_iems.decisions.anomaly_types import Anomaly, DetectorConfig
from luna_iems.simulation.config import load_sim_config
from luna_iems.simulation.meters import simulate_meter
from luna_iems.timeseries.quality import OUTLIER_Z, robust_z

FloatArray = npt.NDArray[np.float64]
QUARTER = timedelta(minutes=15)
# Monday 24 March 2025: the week holds a weekend and the switch to summer time (Sunday 30 March).
WEEK_START = datetime(2025, 3, 24, tzinfo=UTC)
PROFILES = ("household", "household_pv", "commercial", "industrial", "industrial_three_shift")
PV_PROFILES = ("household_pv", "commercial", "industrial")
DEFAULTS = DetectorConfig()


@dataclass(frozen=True)
class Meter:
    start: datetime
    step_minutes: int
    consumption_kw: FloatArray
    production_kw: FloatArray
    forecast_kw: FloatArray  # the noise-free profile: a forecast that knows the shape, not the noise

    def at(self, index: int) -> datetime:
        return self.start + index * timedelta(minutes=self.step_minutes)


def simulated(profile: str, *, start: datetime = WEEK_START, days: int = 7, step_minutes: int = 15) -> Meter:
    config = load_sim_config()
    common: dict[str, Any] = {
        "meter_id": f"test-{profile}",
        "profile": config.profile(profile),
        "start": start,
        "end": start + timedelta(days=days),
        "step_minutes": step_minutes,
        "seed": config.seed,
        "timezone": config.timezone,
        "lat": config.site.lat,
        "lon": config.site.lon,
    }
    readings = simulate_meter(**common)
    profile_only = simulate_meter(**common, noise=0.0)
    return Meter(
        start=start,
        step_minutes=step_minutes,
        consumption_kw=np.round(readings.consumption_kw, 3),
        production_kw=np.round(readings.production_kw, 3),
        forecast_kw=profile_only.consumption_kw,
    )


def run(
    meter: Meter, values: FloatArray, *, expected: FloatArray | None = None, field: str = "consumption_kw"
) -> list[Anomaly]:
    return detect(
        start=meter.start, step_minutes=meter.step_minutes, values=values, expected=expected, field=field
    )


def of_kind(anomalies: list[Anomaly], kind: str) -> list[Anomaly]:
    return [a for a in anomalies if a.kind == kind]


def local_hour_index(meter: Meter, day: int, hour_utc: int) -> int:
    return day * 96 + hour_utc * 4


# --- clean series ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_clean_simulated_week_raises_nothing(profile: str) -> None:
    """A normal week (daily peaks, weekend, DST switch, PV nights at 0, isolated missing readings,
    1 W rounding) gives no anomaly on consumption (with its forecast) nor on PV production."""
    meter = simulated(profile)
    assert run(meter, meter.consumption_kw, expected=meter.forecast_kw) == []
    if profile in PV_PROFILES:
        assert np.count_nonzero(meter.production_kw == 0) > 7 * 40  # the nights are there
        assert run(meter, meter.production_kw, field="production_kw") == []


@pytest.mark.parametrize("start", [datetime(2025, 6, 30, tzinfo=UTC), datetime(2025, 12, 22, tzinfo=UTC)])
def test_clean_summer_and_christmas_weeks_raise_nothing(start: datetime) -> None:
    """Long PV days and the Christmas holidays (Sunday shapes on weekdays) are normal too."""
    for profile in ("household_pv", "commercial"):
        meter = simulated(profile, start=start)
        assert run(meter, meter.consumption_kw, expected=meter.forecast_kw) == []
        assert run(meter, meter.production_kw, field="production_kw") == []


def test_global_robust_z_misses_a_night_spike_that_detect_finds() -> None:
    """Why a local baseline: a night-time spike to the evening level is inside the day's range, so
    the batch outlier score of timeseries.quality does not see it."""
    meter = simulated("household")
    values = meter.consumption_kw.copy()
    night = local_hour_index(meter, 2, 1)  # 01:00 UTC = 02:00 local, Wednesday
    values[night] = 3.0 * values[night]
    assert abs(robust_z(values)[night]) < OUTLIER_Z
    found = run(meter, values)
    assert [(a.kind, a.start) for a in found] == [("spike", meter.at(night))]


# --- spikes ---------------------------------------------------------------------------------------------


def test_spike_has_its_span_evidence_and_a_message_with_the_numbers() -> None:
    meter = simulated("commercial")
    values = meter.consumption_kw.copy()
    i = local_hour_index(meter, 1, 11)  # Tuesday midday, on the plateau
    values[i] = round(4.0 * values[i], 3)
    [spike] = run(meter, values)
    assert (spike.kind, spike.start, spike.end) == ("spike", meter.at(i), meter.at(i + 1))
    assert spike.start.tzinfo == UTC
    evidence = spike.evidence
    assert evidence["observed"] == pytest.approx(values[i])
    neighbours = np.concatenate([values[i - 6 : i], values[i + 1 : i + 7]])
    assert float(evidence["expected"]) == pytest.approx(float(np.median(neighbours)), rel=0.1)
    assert evidence["steps"] == 1 and evidence["unit"] == "kW" and evidence["threshold"] == DEFAULTS.spike_z
    assert spike.score == pytest.approx(abs(float(evidence["robust_z"])))
    # z = (observed - expected) / scale, as the evidence says
    assert float(evidence["robust_z"]) == pytest.approx(
        (float(evidence["observed"]) - float(evidence["expected"])) / float(evidence["scale"]), rel=1e-2
    )
    assert spike.message.startswith(f"consumption_kw spiked to {values[i]:.1f} kW at 2025-03-25 11:00 UTC")
    assert f"expected {float(evidence['expected']):.1f} kW" in spike.message
    assert f"robust z {float(evidence['robust_z']):.1f}" in spike.message


def test_consecutive_spike_steps_merge_into_one_anomaly() -> None:
    meter = simulated("industrial")
    values = meter.consumption_kw.copy()
    i = local_hour_index(meter, 2, 10)
    values[i : i + 3] *= np.array([2.5, 3.0, 2.5])
    [spike] = run(meter, values)
    assert (spike.start, spike.end, spike.evidence["steps"]) == (meter.at(i), meter.at(i + 3), 3)
    assert spike.evidence["observed"] == pytest.approx(values[i + 1])  # the peak of the three
    assert "the peak of 3 steps from 2025-03-26 10:00 UTC" in spike.message


def test_drop_out_to_zero_is_a_downward_spike() -> None:
    meter = simulated("commercial")
    values = meter.consumption_kw.copy()
    i = local_hour_index(meter, 3, 12)
    values[i] = 0.0
    [spike] = run(meter, values)
    assert spike.kind == "spike" and float(spike.evidence["robust_z"]) < 0
    assert "dropped to 0.000 kW" in spike.message


def test_spike_severity_follows_the_documented_z_thresholds() -> None:
    """Synthetic, so that z is known: 100 kW with N(0, 1 kW) noise, spikes of 1.4, 2.4 and 6 times
    spike_z (kW = sigmas): info below 1.5 x spike_z, warning below 3 x, critical above. The detector
    estimates sigma from the data (here about 1.1-1.2 near a spike), so z comes out a little lower."""
    rng = np.random.default_rng(3)
    values = 100.0 + rng.normal(0.0, 1.0, 7 * 96)
    z = DEFAULTS.spike_z
    sizes = (1.4 * z, 2.4 * z, 6.0 * z)
    for index, size in zip((100, 300, 500), sizes, strict=True):
        values[index] += size
    spikes = detect(start=WEEK_START, step_minutes=15, values=values)
    assert [(a.kind, a.start) for a in spikes] == [
        ("spike", WEEK_START + i * QUARTER) for i in (100, 300, 500)
    ]
    assert [a.severity for a in spikes] == ["info", "warning", "critical"]
    for spike, size in zip(spikes, sizes, strict=True):
        assert 0.7 * size <= spike.score <= 1.05 * size


def test_pv_output_at_night_is_a_spike_but_cloud_jumps_by_day_are_not() -> None:
    meter = simulated("household_pv")
    values = meter.production_kw.copy()
    night = local_hour_index(meter, 2, 1)
    assert values[night - 6 : night + 7].max() == 0.0
    values[night] = 0.8
    [spike] = run(meter, values, field="production_kw")
    assert (spike.kind, spike.start) == ("spike", meter.at(night))
    assert "production_kw spiked to 0.800 kW" in spike.message


def test_hourly_series_spike_and_gap() -> None:
    meter = simulated("commercial", step_minutes=60)
    values = meter.consumption_kw.copy()
    values[2 * 24 + 11] *= 3.0
    values[4 * 24 : 4 * 24 + 5] = np.nan
    found = run(meter, values)
    assert [(a.kind, a.start, a.end) for a in found] == [
        ("spike", meter.at(2 * 24 + 11), meter.at(2 * 24 + 12)),
        ("gap", meter.at(4 * 24), meter.at(4 * 24 + 5)),
    ]
    assert "5 steps (5.0 h)" in found[1].message


# --- flatlines ------------------------------------------------------------------------------------------


def test_stuck_meter_is_one_flatline_with_its_span_and_numbers() -> None:
    meter = simulated("household")
    values = meter.consumption_kw.copy()
    a = local_hour_index(meter, 1, 9)
    values[a : a + 12] = values[a]
    [flat] = run(meter, values)
    assert (flat.kind, flat.start, flat.end, flat.severity) == (
        "flatline",
        meter.at(a),
        meter.at(a + 12),
        "warning",
    )
    assert flat.score == 12 and flat.evidence["steps"] == 12 and flat.evidence["readings"] == 12
    assert flat.evidence["value"] == pytest.approx(values[a])
    typical = float(np.nanmedian(np.abs(np.diff(meter.consumption_kw))))
    assert float(flat.evidence["typical_change"]) == pytest.approx(typical, rel=0.1)
    assert f"stayed at {values[a]:.3f} kW for 12 steps (3.0 h) from 2025-03-25 09:00 UTC" in flat.message


def test_flatline_of_a_day_or_more_is_critical_and_short_repeats_are_not_flatlines() -> None:
    meter = simulated("commercial")
    values = meter.consumption_kw.copy()
    long_start = local_hour_index(meter, 1, 6)
    values[long_start : long_start + 120] = values[long_start]
    short_start = local_hour_index(meter, 4, 10)
    values[short_start : short_start + DEFAULTS.flatline_min_steps - 1] = values[short_start]
    [flat] = run(meter, values)
    assert (flat.start, flat.end, flat.severity) == (
        meter.at(long_start),
        meter.at(long_start + 120),
        "critical",
    )
    assert "(30.0 h)" in flat.message


def test_nearly_constant_readings_count_as_stuck() -> None:
    """A stuck sensor may still jitter in the last digit."""
    meter = simulated("industrial")
    values = meter.consumption_kw.copy()
    a = local_hour_index(meter, 2, 12)
    values[a : a + 8] = values[a] + np.array([0, 0.001, -0.001, 0, 0.001, 0, -0.001, 0])
    assert [(f.kind, f.start, f.end) for f in run(meter, values)] == [
        ("flatline", meter.at(a), meter.at(a + 8))
    ]


def test_short_hole_inside_a_stuck_period_does_not_split_it() -> None:
    meter = simulated("household")
    values = meter.consumption_kw.copy()
    a = local_hour_index(meter, 3, 14)
    values[a : a + 10] = values[a]
    values[a + 4] = np.nan
    [flat] = run(meter, values)
    assert (flat.start, flat.end, flat.evidence["steps"], flat.evidence["readings"]) == (
        meter.at(a),
        meter.at(a + 10),
        10,
        9,
    )


def test_consumption_stuck_at_zero_is_a_flatline_but_pv_nights_are_not() -> None:
    meter = simulated("household_pv")
    consumption = meter.consumption_kw.copy()
    a = local_hour_index(meter, 2, 8)
    consumption[a : a + 16] = 0.0
    [flat] = run(meter, consumption)
    assert (flat.kind, flat.start, flat.end) == ("flatline", meter.at(a), meter.at(a + 16))
    # the same zeros in production at night are its normal state
    assert run(meter, meter.production_kw, field="production_kw") == []


def test_pv_stuck_by_day_is_a_flatline() -> None:
    meter = simulated("household_pv")
    production = meter.production_kw.copy()
    noon = local_hour_index(meter, 3, 10)
    assert production[noon] > 0.1
    production[noon : noon + 8] = production[noon]
    [flat] = run(meter, production, field="production_kw")
    assert (flat.kind, flat.start, flat.end) == ("flatline", meter.at(noon), meter.at(noon + 8))


def test_series_that_is_often_zero_or_never_varies_has_no_flatlines() -> None:
    """A machine that is off every night (zero for over 20 % of the readings) and a fixed setpoint
    are constant by nature."""
    meter = simulated("commercial")
    machine = meter.consumption_kw.copy()
    hours = (np.arange(machine.size) // 4) % 24
    machine[(hours < 5) | (hours >= 20)] = 0.0  # off 20:00-05:00 UTC
    assert run(meter, machine) == []
    setpoint = np.full(meter.consumption_kw.size, 5.0)
    assert run(meter, setpoint) == []


# --- gaps -----------------------------------------------------------------------------------------------


def test_gap_reports_the_missing_steps_and_short_holes_are_ignored() -> None:
    meter = simulated("household")
    values = meter.consumption_kw.copy()
    a = local_hour_index(meter, 1, 14)
    values[a : a + 8] = np.nan
    b = local_hour_index(meter, 4, 3)
    values[b : b + DEFAULTS.gap_min_steps - 1] = np.nan
    [gap] = run(meter, values)
    assert (gap.kind, gap.start, gap.end, gap.severity, gap.score) == (
        "gap",
        meter.at(a),
        meter.at(a + 8),
        "info",
        8.0,
    )
    assert gap.evidence == {"steps": 8, "hours": 2.0, "threshold_steps": DEFAULTS.gap_min_steps}
    assert gap.message == (
        "consumption_kw has no readings for 8 steps (2.0 h) from 2025-03-25 14:00 UTC to 2025-03-25 16:00 UTC"
    )


@pytest.mark.parametrize(("steps", "severity"), [(4, "info"), (16, "warning"), (96, "critical")])
def test_gap_severity_by_duration(steps: int, severity: str) -> None:
    meter = simulated("industrial")
    values = meter.consumption_kw.copy()
    values[200 : 200 + steps] = np.nan
    [gap] = run(meter, values)
    assert (gap.evidence["steps"], gap.severity) == (steps, severity)


def test_gaps_at_both_ends_and_an_all_missing_series() -> None:
    meter = simulated("household")
    values = meter.consumption_kw.copy()
    values[:6] = np.nan
    values[-5:] = np.nan
    found = run(meter, values, expected=meter.forecast_kw)
    assert [(a.kind, a.start, a.end) for a in found] == [
        ("gap", meter.at(0), meter.at(6)),
        ("gap", meter.at(values.size - 5), meter.at(values.size)),
    ]
    [everything] = run(meter, np.full(values.size, np.nan), expected=meter.forecast_kw)
    assert (everything.kind, everything.evidence["steps"], everything.severity) == (
        "gap",
        values.size,
        "critical",
    )
    assert "(7.0 days)" in everything.message


# --- drift ----------------------------------------------------------------------------------------------


def test_sustained_deviation_from_the_forecast_is_one_drift() -> None:
    meter = simulated("commercial")
    values = meter.consumption_kw.copy()
    a, b = 2 * 96 + 10, 4 * 96 + 10  # two days, not aligned to the 4-hour blocks
    values[a:b] *= 1.2
    [drift] = run(meter, values, expected=meter.forecast_kw)
    assert drift.kind == "drift" and drift.severity == "warning"
    block = DEFAULTS.drift_block_steps
    assert meter.at(a - block) <= drift.start <= meter.at(a)
    assert meter.at(b) <= drift.end <= meter.at(b + block)
    start, end = (round((t - meter.start) / QUARTER) for t in (drift.start, drift.end))
    deviation = values[start:end] - meter.forecast_kw[start:end]
    usable = np.isfinite(deviation)
    assert drift.evidence["mean_deviation"] == pytest.approx(float(np.mean(deviation[usable])), abs=1e-3)
    assert 15.0 < float(drift.evidence["mean_deviation_pct"]) < 21.0
    assert drift.evidence["direction"] == "above" and drift.evidence["unit"] == "kW"
    assert drift.score >= DEFAULTS.drift_h
    pct = float(drift.evidence["mean_deviation_pct"])
    assert re.search(rf"ran {pct:.1f}% above forecast for {end - start} steps", drift.message)
    assert f"mean deviation +{float(drift.evidence['mean_deviation']):.2f} kW" in drift.message


def test_large_drop_is_a_critical_drift_below_forecast() -> None:
    meter = simulated("industrial")
    values = meter.consumption_kw.copy()
    a, b = 3 * 96, 3 * 96 + 48  # 12 hours at -35 %
    values[a:b] *= 0.65
    [drift] = run(meter, values, expected=meter.forecast_kw)
    assert (drift.kind, drift.severity, drift.evidence["direction"]) == ("drift", "critical", "below")
    assert float(drift.evidence["mean_deviation_pct"]) < -25.0
    assert "below forecast" in drift.message


def test_spikes_and_flatlines_are_not_reported_again_as_drift() -> None:
    meter = simulated("household")
    values = meter.consumption_kw.copy()
    spike_at = local_hour_index(meter, 1, 18)
    values[spike_at : spike_at + 3] *= 4.0
    a = local_hour_index(meter, 4, 6)
    values[a : a + 40] = values[a]
    found = run(meter, values, expected=meter.forecast_kw)
    assert [a.kind for a in found] == ["spike", "flatline"]


def test_no_drift_without_a_forecast() -> None:
    meter = simulated("commercial")
    values = meter.consumption_kw * 1.3
    assert run(meter, values) == []
    assert of_kind(run(meter, values, expected=meter.forecast_kw), "drift")


# --- input handling -------------------------------------------------------------------------------------


def test_start_in_another_time_zone_is_returned_in_utc() -> None:
    meter = simulated("household")
    values = meter.consumption_kw.copy()
    values[100:110] = np.nan
    berlin_start = WEEK_START.astimezone(ZoneInfo("Europe/Berlin"))
    [gap] = detect(start=berlin_start, step_minutes=15, values=values)
    assert gap.start.tzinfo == UTC and gap.start == meter.at(100)


def test_empty_series_and_plain_lists() -> None:
    assert detect(start=WEEK_START, step_minutes=15, values=np.array([])) == []
    found = detect(
        start=WEEK_START,
        step_minutes=15,
        values=[1.0, float("nan"), float("nan"), float("nan"), float("nan")],
    )
    assert [(a.kind, a.evidence["steps"]) for a in found] == [("gap", 4)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expected": np.ones(95)}, "expected has 95 values but values has 96"),
        ({"expected": np.ones((96, 2))}, r"expected must be one-dimensional \(got shape \(96, 2\)\)"),
        ({"start": datetime(2025, 3, 24)}, "start must be timezone-aware"),
        ({"values": np.ones((48, 2))}, r"values must be one-dimensional \(got shape \(48, 2\)\)"),
        ({"step_minutes": 0}, r"step_minutes must be a positive integer \(got 0\)"),
        ({"step_minutes": 7.5}, "step_minutes must be a positive integer"),
        ({"values": np.r_[np.ones(3), np.inf, np.ones(92)]}, "values holds 1 infinite value.*index 3"),
        ({"expected": np.r_[np.ones(10), -np.inf, np.ones(85)]}, "expected holds 1 infinite value.*index 10"),
    ],
)
def test_invalid_input_names_the_problem(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"start": WEEK_START, "step_minutes": 15, "values": np.ones(96)} | kwargs
    with pytest.raises(ValueError, match=message):
        detect(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"spike_z": 0}, "spike_z"),
        ({"spike_window_steps": 8}, "spike_window_steps"),
        ({"flatline_min_steps": 1}, "flatline_min_steps"),
        ({"gap_min_steps": 0}, "gap_min_steps"),
        ({"drift_block_steps": 0}, "drift_block_steps"),
        ({"drift_h": -1.0}, "drift_h"),
        ({"drift_k": -0.5}, "drift_k"),
    ],
)
def test_invalid_config_names_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=rf"DetectorConfig\.{field} must be"):
        DetectorConfig(**kwargs)  # type: ignore[arg-type]


# --- injection helper and end to end --------------------------------------------------------------------


def test_inject_is_seeded_and_places_separate_events_of_each_kind() -> None:
    meter = simulated("household", days=28)
    first, events = inject(meter.consumption_kw, rng=np.random.default_rng(7), kinds=KINDS, count=3)
    again, same = inject(meter.consumption_kw, rng=np.random.default_rng(7), kinds=KINDS, count=3)
    assert same == events and np.array_equal(first, again, equal_nan=True)
    assert sorted(e.kind for e in events) == sorted(list(KINDS) * 3)
    assert all(e.end_idx > e.start_idx for e in events)
    for left, right in itertools.pairwise(events):
        assert left.end_idx <= right.start_idx  # sorted and disjoint
    touched = np.zeros(first.size, dtype=bool)
    for event in events:
        touched[event.start_idx : event.end_idx] = True
    untouched = ~touched
    assert np.array_equal(first[untouched], meter.consumption_kw[untouched], equal_nan=True)
    for event in events:
        segment = first[event.start_idx : event.end_idx]
        if event.kind == "gap":
            assert np.isnan(segment).all()
        if event.kind == "flatline":
            assert np.all(segment == segment[0])


def _scores(events: list[InjectedAnomaly], found: list[Anomaly], start: datetime) -> tuple[int, int, int]:
    spans = [(a.kind, round((a.start - start) / QUARTER), round((a.end - start) / QUARTER)) for a in found]
    detected = sum(
        any(k == e.kind and a < e.end_idx and e.start_idx < b for k, a, b in spans) for e in events
    )
    true = sum(any(k == e.kind and a < e.end_idx and e.start_idx < b for e in events) for k, a, b in spans)
    return detected, true, len(spans)


def test_end_to_end_injected_anomalies_are_found_with_the_right_kind() -> None:
    """Two four-week meters with 4 events of each kind, some deliberately below the thresholds (short
    flatlines and gaps, small spikes and drifts): measured 29 of 32 detected, all 29 detections right
    (the misses are all below the thresholds by definition: gaps of 2 and 3 steps, a 4-step flatline)."""
    detected_total, true_total, found_total, events_total = 0, 0, 0, 0
    for seed, profile in enumerate(("household", "industrial")):
        meter = simulated(profile, days=28)
        values, events = inject(meter.consumption_kw, rng=np.random.default_rng(seed), count=4)
        found = run(meter, values, expected=meter.forecast_kw)
        detected, true, total = _scores(events, found, meter.start)
        detected_total, true_total, found_total = (
            detected_total + detected,
            true_total + true,
            found_total + total,
        )
        events_total += len(events)
    assert detected_total >= 28 and events_total == 32
    assert true_total == found_total

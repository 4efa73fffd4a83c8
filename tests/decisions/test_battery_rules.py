"""Per-battery rules (`soc_pct['hall']`, a rule's `battery`) and hysteresis (`rearm_when`), down to the
demo site's reserve rule on a simulated week."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.bootstrap import Container
from luna_iems.decisions import rule_service, rule_specs, rules
from luna_iems.decisions.rules import RuleError, RuleState
from luna_iems.main import create_app
from luna_iems.simulation import service as sim_service
from tests.conftest import ADMIN_TOKEN, auth, make_settings

ADMIN = auth(ADMIN_TOKEN)
QUARTER = timedelta(minutes=15)
T0 = datetime(2026, 1, 5, tzinfo=UTC)
RESERVE = next(spec for spec in rule_specs.BUILTIN_RULES if spec["name"] == "soc-reserve")


def rule(**fields: Any) -> rules.CompiledRule:
    spec = {"name": "r", "when": "soc_pct < 20", "then": "hold_battery", **fields}
    return rules.parse_rule(spec)


def series(values: list[float | None], key: str = "soc_pct") -> list[tuple[datetime, dict[str, Any]]]:
    return [(T0 + i * QUARTER, {key: v}) for i, v in enumerate(values)]


def fired_at(compiled: rules.CompiledRule, steps: list[tuple[datetime, dict[str, Any]]]) -> list[int]:
    return [int((f.ts - T0) / QUARTER) for f in rules.dry_run([compiled], steps)]


# --- the expression language ------------------------------------------------------------------------
def test_a_subscript_reads_one_battery() -> None:
    compiled = rule(when="soc_pct['hall'] < 20 and soc_pct > 50")
    assert compiled.variables == ("soc_pct['hall']", "soc_pct")
    assert compiled.batteries == ("hall",)
    context = {"soc_pct": 60.0, "soc_pct['hall']": 12.0, "soc_pct['garage']": 90.0}
    assert compiled.evaluate(context).fired
    assert not compiled.evaluate({**context, "soc_pct['hall']": 40.0}).fired
    missing = compiled.evaluate({"soc_pct": 60.0})
    assert not missing.fired and missing.reason == "soc_pct['hall'] unavailable"


def test_a_battery_field_makes_soc_pct_that_battery() -> None:
    compiled = rule(battery="hall", then={"action": "hold_battery", "message": "hall at {soc_pct:.0f} %"})
    assert compiled.batteries == ("hall",)
    result = compiled.evaluate({"soc_pct": 80.0, "soc_pct['hall']": 15.0})
    assert result.fired and result.message == "hall at 15 %"
    assert not compiled.evaluate({"soc_pct": 10.0, "soc_pct['hall']": 55.0}).fired  # the mean is ignored
    assert compiled.evaluate({"soc_pct": 10.0}).reason == "soc_pct unavailable"  # hall did not report


@pytest.mark.parametrize(
    ("when", "message", "position"),
    [
        ("soc_pct[hall] < 20", "a subscript ('soc_pct[hall]') is not allowed", 1),
        ("10 < soc_pct[1]", "unless it names a battery by a quoted id, e.g. soc_pct['hall']", 6),
        ("price_eur_mwh['x'] > 3", "only soc_pct can be indexed by a battery id", 1),
        ("soc_pct[''] < 20", "battery id '' in 'soc_pct['']'", 9),
        ("soc_pct['hall' < 20", "syntax error at column", None),
    ],
)
def test_bad_battery_syntax_is_named_with_its_position(when: str, message: str, position: int | None) -> None:
    with pytest.raises(RuleError) as caught:
        rule(when=when)
    assert caught.value.field == "when"
    assert message in str(caught.value)
    if position is not None:
        assert caught.value.position == position


def test_a_battery_id_with_a_quote_is_refused() -> None:
    with pytest.raises(RuleError) as caught:
        rule(battery="it's")
    assert caught.value.field == "battery"


# --- hysteresis ---------------------------------------------------------------------------------------
def test_rearm_when_fires_once_per_episode_and_ignores_noise() -> None:
    soc: list[float | None] = [30, 19, 18, 20.5, 19, 21, 24, None, 19, 26, 27, 19, 18]
    latched = rule(rearm_when="soc_pct >= 25")
    # Fires when SOC first drops below 20; noise around 20 (20.5, 19, 21, 24) and missing data do not
    # re-arm it; 26 does, so the drop at step 11 is a new episode.
    assert fired_at(latched, series(soc)) == [1, 11]
    # Without hysteresis (and no cooldown) every step below 20 fires.
    assert fired_at(rule(), series(soc)) == [1, 2, 4, 8, 11, 12]


def test_rearm_and_cooldown_combine() -> None:
    # A second episode starts 30 minutes after the first firing: the 60-minute cooldown holds it back
    # until step 4 (60 minutes), where it fires once; it stays latched after that.
    soc: list[float | None] = [19, 26, 19, 19, 19, 19, 19, 19]
    assert fired_at(rule(rearm_when="soc_pct >= 25", cooldown_minutes=60), series(soc)) == [0, 4]


def test_the_latch_survives_in_the_persisted_state() -> None:
    """The scheduler keeps only (condition_since, last_fired): enough to stay latched across runs."""
    compiled = rule(rearm_when="soc_pct >= 25")
    state = RuleState()
    fired = []
    for ts, context in series([19, 15, 22, 19, 30, 19]):
        state = RuleState(state.condition_since, state.last_fired)  # as read back from the rules table
        state, firing = rules.step(compiled, state, ts, context)
        fired.append(firing is not None)
    assert fired == [True, False, False, False, False, True]


# --- through the API: unknown batteries, per-battery contexts ----------------------------------------
def _states(battery: str, start: datetime, values: list[float]) -> list[dict[str, Any]]:
    return [
        {"battery_id": battery, "site": "s1", "ts": (start + (i + 1) * QUARTER).isoformat(), "soc_pct": v}
        for i, v in enumerate(values)
    ]


def test_rules_name_known_batteries_and_see_their_own_soc(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url=database_url)  # SQLite and PostgreSQL
    start = datetime(2026, 6, 1, tzinfo=UTC)
    readings = [
        {"meter_id": "m1", "ts": (start + i * QUARTER).isoformat(), "consumption_kw": 1.0} for i in range(8)
    ]
    hall = [50, 30, 18, 15, 22, 40, 19, 18]
    garage = [90, 90, 90, 90, 90, 90, 90, 90]
    with TestClient(create_app(settings)) as client:
        assert client.post("/meters", json={"meter_id": "m1", "site": "s1"}, headers=ADMIN).status_code == 201
        assert (
            client.post("/ingest/meter-readings", json={"rows": readings}, headers=ADMIN).status_code == 200
        )
        body = {"rows": _states("hall", start, hall) + _states("garage", start, garage)}
        assert client.post("/ingest/battery-states", json=body, headers=ADMIN).status_code == 200

        unknown = client.post(
            "/rules",
            json={"name": "x", "site": "s1", "when": "soc_pct['cellar'] < 20", "then": "notify"},
            headers=ADMIN,
        )
        assert unknown.status_code == 422
        details = unknown.json()["error"]["details"]
        assert details["field"] == "when" and details["battery"] == "cellar" and details["position"] == 1
        assert details["known"] == ["garage", "hall"]
        assert "unknown battery 'cellar'" in unknown.json()["error"]["message"]
        wrong_site = client.post(
            "/rules",
            json={
                "name": "y",
                "site": "elsewhere",
                "battery": "hall",
                "when": "soc_pct < 20",
                "then": "notify",
            },
            headers=ADMIN,
        )
        assert wrong_site.status_code == 422 and wrong_site.json()["error"]["details"]["field"] == "battery"

        created = client.post(
            "/rules",
            json={
                "name": "hall-reserve",
                "site": "s1",
                "battery": "hall",
                "when": "soc_pct < 20",
                "rearm_when": "soc_pct >= 25",
                "then": {"action": "hold_battery", "message": "hall at {soc_pct:.0f} %"},
            },
            headers=ADMIN,
        )
        assert created.status_code == 201, created.text
        assert created.json()["battery"] == "hall" and created.json()["rearm_when"] == "soc_pct >= 25"
        rule_id = created.json()["rule_id"]
        renamed = client.patch(f"/rules/{rule_id}", json={"battery": "cellar"}, headers=ADMIN)
        assert renamed.status_code == 422 and renamed.json()["error"]["details"]["battery"] == "cellar"

        dry = client.post(
            "/rules/evaluate",
            json={
                "from": start.isoformat(),
                "to": (start + 8 * QUARTER).isoformat(),
                "rule_ids": [rule_id],
                "rules": None,
            },
            headers=ADMIN,
        )
        assert dry.status_code == 200, dry.text
        firings = dry.json()["firings"]
        # The site mean never drops below 20 (garage is full); hall does twice, with a recovery to 40
        # in between: two episodes, two firings, each with hall's own value.
        assert [f["message"] for f in firings] == ["hall at 18 %", "hall at 19 %"]
        assert [f["values"] for f in firings] == [{"soc_pct": 18.0}, {"soc_pct": 19.0}]
        container: Container = client.app.state.container  # type: ignore[attr-defined]
        with container.session_factory() as session:
            contexts = rule_service.site_contexts(
                session=session,
                settings=container.settings,
                site="s1",
                ts_from=start + QUARTER,
                ts_to=start + 3 * QUARTER,
            )
    assert [c["soc_pct['hall']"] for _, c in contexts] == [50.0, 30.0]
    assert [c["soc_pct"] for _, c in contexts] == [70.0, 60.0]


# --- the demo's reserve rule on a simulated week ---------------------------------------------------------
def _episodes(socs: list[float | None], *, below: float, recovered: float) -> int:
    """Genuine low-SOC episodes: the battery drops below the reserve, and the episode ends only once it
    has recovered to `recovered` (a real charge, not noise around the threshold)."""
    count, low = 0, False
    for soc in socs:
        if soc is None:
            continue
        if not low and soc < below:
            count, low = count + 1, True
        elif low and soc >= recovered:
            low = False
    return count


def _dry_run(client: TestClient, specs: list[Mapping[str, Any]], ts_from: datetime, ts_to: datetime) -> Any:
    body = {
        "from": ts_from.isoformat(),
        "to": ts_to.isoformat(),
        "rules": [{**spec, "site": "sim"} for spec in specs],
    }
    response = client.post("/rules/evaluate", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_demo_reserve_rule_fires_once_per_low_soc_episode(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    with TestClient(create_app(settings)) as client:
        container: Container = client.app.state.container  # type: ignore[attr-defined]
        assert sim_service.seed_demo(container.timeseries_deps, days=8) is not None
        ts_to = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0) - QUARTER
        ts_from = ts_to - timedelta(days=7)
        with container.session_factory() as session:
            contexts = rule_service.site_contexts(
                session=session, settings=container.settings, site="sim", ts_from=ts_from, ts_to=ts_to
            )
        socs = [c["soc_pct"] for _, c in contexts]
        level_triggered = {k: v for k, v in RESERVE.items() if k != "rearm_when"} | {"name": "old"}
        result = _dry_run(client, [RESERVE, level_triggered], ts_from, ts_to)
    summary = {s["rule"]: s["fired"] for s in result["summary"]}
    episodes = _episodes(socs, below=20, recovered=25)
    # The simulated battery runs self-consumption down to its 10 % minimum on most nights of a week.
    assert episodes >= 1 and sum(1 for s in socs if s is not None and s < 20) > 4 * episodes
    assert summary["soc-reserve"] == episodes
    # Each firing is the first step of an episode: SOC below 20 right after a step that was not.
    by_ts = {ts: c["soc_pct"] for ts, c in contexts}
    for firing in (f for f in result["firings"] if f["rule"] == "soc-reserve"):
        ts = datetime.fromisoformat(firing["ts"])
        assert by_ts[ts] is not None and by_ts[ts] < 20
        assert by_ts.get(ts - QUARTER) is None or by_ts[ts - QUARTER] >= 20
    # Level-triggered, the same condition fired every cooldown while the battery sat at its minimum.
    assert summary["old"] > 2 * episodes

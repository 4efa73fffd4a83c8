"""POST /ingest/telemetry on SQLite and PostgreSQL: a valid batch, replays counted as duplicates, one
invalid event refusing the whole batch with each offending row named, personal data refused, the dwell
rules, the batch limit, a reused event_id with another ts (409), and implicit rewards on recommendations
(the recommender is a recording double: its real implementation is tested in its own domain)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from luna_iems.admin.schemas import Role
from luna_iems.telemetry.events.schemas import MAX_EVENTS_PER_BATCH
from luna_iems.telemetry.models import Event
from tests.conftest import auth
from tests.telemetry.events_support import (
    T0,
    FakeRecommender,
    event,
    events,
    labels,
    post_events,
    recommender,
    session_of,
    stored_events,
)

__all__ = ["recommender"]  # the fixture, imported for pytest


def fields_of(body: dict[str, Any]) -> set[str]:
    return {d["field"] for d in body["error"]["details"]}


def test_a_valid_batch_is_stored_with_every_column(client: TestClient, make_key: Any) -> None:
    viewer = make_key(client, Role.VIEWER)
    batch = [
        event(
            type="dwell", duration_ms=1500, page="/kpis/plant", user="ab" * 16, meta={"lang": "de", "n": 3}
        ),
        event(type="click", item_kind="alert", item_id="alert-7", ts="2026-12-01T13:00:00+01:00"),
    ]
    assert post_events(client, batch, headers=auth(viewer)) == {"accepted": 2, "duplicates": 0}
    with session_of(client) as session:
        rows = {str(e.event_id): e for e in session.scalars(select(Event)).all()}
    dwell, click = rows[batch[0]["event_id"]], rows[batch[1]["event_id"]]
    assert (dwell.type, dwell.item_kind, dwell.item_id, dwell.duration_ms) == (
        "dwell",
        "document",
        "doc-1",
        1500,
    )
    assert (dwell.user_hash, dwell.page, dwell.meta) == ("ab" * 16, "/kpis/plant", {"lang": "de", "n": 3})
    assert click.ts == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # stored in UTC
    assert click.user_hash is None and click.duration_ms is None and click.meta == {}
    assert click.received_at >= dwell.ts


def test_replays_are_counted_never_stored_twice(client: TestClient) -> None:
    batch = events(3)
    assert post_events(client, batch) == {"accepted": 3, "duplicates": 0}
    assert post_events(client, batch) == {"accepted": 0, "duplicates": 3}
    # A batch mixing new and replayed events, and one event twice in the same batch.
    fresh = event()
    assert post_events(client, [batch[0], fresh, fresh]) == {"accepted": 1, "duplicates": 2}
    assert stored_events(client) == 4


def test_a_reused_event_id_with_another_ts_is_a_conflict(client: TestClient) -> None:
    first = event()
    post_events(client, [first])
    moved = {**first, "ts": (T0 + timedelta(minutes=1)).isoformat()}
    body = post_events(client, [event(), moved], expect=409)
    assert first["event_id"] in body["error"]["message"] and "events[1]" in body["error"]["message"]
    assert body["error"]["details"]["conflicts"][0]["index"] == 1
    # Inside one batch too; nothing of a refused batch is stored.
    twin = event()
    body = post_events(client, [twin, {**twin, "ts": (T0 + timedelta(seconds=9)).isoformat()}], expect=409)
    assert twin["event_id"] in body["error"]["message"]
    assert stored_events(client) == 1


def test_one_invalid_event_refuses_the_batch_and_names_each_row(client: TestClient) -> None:
    batch = [*events(2), event(type="scroll"), event(), event(item_kind="meter", ts="2026-12-01T12:00:00")]
    body = post_events(client, batch, expect=422)
    assert fields_of(body) == {"body.events[2].type", "body.events[4].item_kind", "body.events[4].ts"}
    assert stored_events(client) == 0


def test_unknown_fields_are_refused(client: TestClient) -> None:
    body = post_events(client, [event(), event(email_hint="x")], expect=422)
    assert fields_of(body) == {"body.events[1].email_hint"}


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"item_id": "jane.doe@example.com"}, "item_id", "e-mail address"),
        ({"page": "/users/max@example.org"}, "page", "e-mail address"),
        ({"meta": {"note": "call +49 151 2345678"}}, "meta", "phone number"),
        ({"meta": {"ref": "0151-23456789"}}, "meta", "phone number"),
        ({"meta": {"note": "Ruf an: (030) 1234567."}}, "meta", "phone number"),
        ({"meta": {"first_name": "Erika"}}, "meta", "personal data"),
        ({"meta": {"Name": "Max Mustermann"}}, "meta", "personal data"),
        ({"user": "max.mustermann"}, "user", "only salted hashes"),
        ({"user": "abc123"}, "user", "only salted hashes"),  # too short to be a salted hash
    ],
)
def test_personal_data_is_refused(client: TestClient, fields: dict[str, Any], field: str, says: str) -> None:
    body = post_events(client, [event(), event(**fields)], expect=422)
    assert fields_of(body) == {f"body.events[1].{field}"}
    assert says in body["error"]["message"]
    assert stored_events(client) == 0


def test_values_that_only_resemble_personal_data_pass(client: TestClient) -> None:
    # A date, a plain number, an amount and a UUID are not phone numbers — not even UUIDs whose groups
    # hold long digit runs after a 0 (random UUIDs did, now and then, before ids were exempt).
    meta = {"day": "06/12/2026", "count": "12345678", "eur": "1.234,56", "ref": str(uuid.uuid4())}
    digit_runs = ["d3b07384-0612-4567-8901-234567890123", "12345678-0123-4567-8901-234567890123"]
    batch = [event(meta=meta)] + [event(item_kind="recommendation", item_id=i) for i in digit_runs]
    assert post_events(client, batch) == {"accepted": 3, "duplicates": 0}


def test_dwell_needs_a_bounded_duration_and_only_dwell_has_one(client: TestClient) -> None:
    day_ms = 24 * 3600 * 1000
    batch = [
        event(type="dwell"),
        event(type="click", duration_ms=10),
        event(type="dwell", duration_ms=day_ms + 1),
        event(type="dwell", duration_ms=-1),
        event(type="dwell", duration_ms=day_ms),
    ]
    body = post_events(client, batch, expect=422)
    rows = {d["field"]: d["message"] for d in body["error"]["details"]}
    assert set(rows) == {
        "body.events[0]",
        "body.events[1]",
        "body.events[2].duration_ms",
        "body.events[3].duration_ms",
    }
    assert "required for type=dwell" in rows["body.events[0]"]
    assert "only accepted for type=dwell" in rows["body.events[1]"]
    assert post_events(client, [batch[4]]) == {"accepted": 1, "duplicates": 0}


def test_time_must_have_an_offset_and_not_lie_ahead(client: TestClient) -> None:
    soon = datetime.now(tz=UTC) + timedelta(minutes=2)
    later = datetime.now(tz=UTC) + timedelta(minutes=10)
    body = post_events(client, [event(ts=soon.isoformat()), event(ts=later.isoformat())], expect=422)
    assert fields_of(body) == {"body.events[1].ts"}
    assert "5 minutes in the future" in body["error"]["message"]
    body = post_events(client, [event(ts=1764590400)], expect=422)
    assert fields_of(body) == {"body.events[0].ts"}


def test_the_batch_limit_is_named(client: TestClient) -> None:
    body = post_events(client, events(MAX_EVENTS_PER_BATCH + 1), expect=422)
    assert f"at most {MAX_EVENTS_PER_BATCH}" in body["error"]["message"]
    assert post_events(client, [], expect=422)["error"]["details"][0]["field"] == "body.events"
    assert post_events(client, events(MAX_EVENTS_PER_BATCH))["accepted"] == MAX_EVENTS_PER_BATCH


def test_events_on_recommendations_give_implicit_rewards_once(
    client: TestClient, recommender: FakeRecommender
) -> None:
    known, unknown = uuid.uuid4(), uuid.uuid4()
    recommender.known.add(known)
    batch = [
        event(type=kind, item_kind="recommendation", item_id=str(known))
        for kind in ("view", "click", "like", "solve", "dismiss", "dwell")
    ]
    batch[-1]["duration_ms"] = 500
    batch += [
        event(type="solve", item_kind="recommendation", item_id=str(unknown)),
        event(type="solve", item_kind="recommendation", item_id="not-a-uuid"),
        event(type="solve", item_kind="rule", item_id=str(known)),
    ]
    assert post_events(client, batch)["accepted"] == 9
    expected = [
        (known, 0.25, "event:click"),
        (known, 0.5, "event:like"),
        (known, 1.0, "event:solve"),
        (known, -0.5, "event:dismiss"),
    ]
    assert recommender.calls == expected
    assert [(lb.kind, lb.target, lb.reward) for lb in labels(client)] == [
        ("implicit", "recommendation", r) for _, r, _ in expected
    ]
    assert post_events(client, batch) == {"accepted": 0, "duplicates": 9}
    assert len(recommender.calls) == 4 and len(labels(client)) == 4  # a replay rewards nothing again

"""Meters CRUD under /meters, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from luna_iems.admin.schemas import Role
from tests.conftest import auth
from tests.timeseries.factories import (
    ADMIN,
    create_meter,
    error_of,
    ingest,
    readings_query,
    row_count,
    series,
    utc,
)


def test_create_returns_201_with_defaults_and_duplicate_is_409(client: TestClient) -> None:
    created = create_meter(client, "m-1", site="plant", kind="production", lat=52.5, lon=13.4)
    assert created["meter_id"] == "m-1"
    assert (created["site"], created["kind"], created["timezone"]) == ("plant", "production", "Europe/Berlin")
    assert (created["lat"], created["lon"], created["obis_map"]) == (52.5, 13.4, {})
    assert created["created_at"]

    again = client.post("/meters", json={"meter_id": "m-1"}, headers=ADMIN)
    error = error_of(again, 409)
    assert error["code"] == "conflict"
    assert "m-1" in error["message"] and error["details"] == {"meter_id": "m-1"}
    # the conflicting create changed nothing
    assert client.get("/meters/m-1", headers=ADMIN).json()["site"] == "plant"


def test_create_refuses_invalid_fields(client: TestClient) -> None:
    for body, field in (
        ({"meter_id": "has space"}, "body.meter_id"),
        ({"meter_id": "m", "timezone": "Mars/Olympus"}, "body.timezone"),
        ({"meter_id": "m", "kind": "nuclear"}, "body.kind"),
        ({"meter_id": "m", "lat": 91}, "body.lat"),
    ):
        error = error_of(client.post("/meters", json=body, headers=ADMIN), 422)
        assert field in {d["field"] for d in error["details"]}, (body, error)
    assert client.get("/meters", headers=ADMIN).json()["total"] == 0


def test_get_unknown_meter_is_404_naming_it(client: TestClient) -> None:
    error = error_of(client.get("/meters/nope-42", headers=ADMIN), 404)
    assert error["code"] == "not_found"
    assert "nope-42" in error["message"] and error["details"] == {"meter_id": "nope-42"}


def test_list_filters_by_site_and_kind_and_pages(client: TestClient) -> None:
    for i in range(5):
        create_meter(client, f"a-{i}", site="alpha", kind="consumption" if i % 2 else "production")
    for i in range(3):
        create_meter(client, f"b-{i}", site="beta")

    everything = client.get("/meters", headers=ADMIN).json()
    assert everything["total"] == 8
    assert [m["meter_id"] for m in everything["items"]] == [f"a-{i}" for i in range(5)] + [
        f"b-{i}" for i in range(3)
    ]

    page = client.get("/meters", params={"site": "alpha", "limit": 2, "offset": 2}, headers=ADMIN).json()
    assert page["total"] == 5  # total counts the filtered set, not the page
    assert [m["meter_id"] for m in page["items"]] == ["a-2", "a-3"]
    last = client.get("/meters", params={"site": "alpha", "limit": 2, "offset": 4}, headers=ADMIN).json()
    assert [m["meter_id"] for m in last["items"]] == ["a-4"]

    beta = client.get("/meters", params={"site": "beta"}, headers=ADMIN).json()
    assert beta["total"] == 3 and {m["site"] for m in beta["items"]} == {"beta"}
    producers = client.get("/meters", params={"site": "alpha", "kind": "production"}, headers=ADMIN).json()
    assert [m["meter_id"] for m in producers["items"]] == ["a-0", "a-2", "a-4"]
    assert client.get("/meters", params={"site": "nowhere"}, headers=ADMIN).json() == {
        "items": [],
        "total": 0,
    }
    error_of(client.get("/meters", params={"limit": 0}, headers=ADMIN), 422)


def test_patch_updates_given_fields_only(client: TestClient) -> None:
    create_meter(client, "m-1", site="plant", lat=1.0)
    response = client.patch(
        "/meters/m-1", json={"site": "depot", "timezone": "Europe/Vienna", "kind": "battery"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["site"], updated["timezone"], updated["kind"], updated["lat"]) == (
        "depot",
        "Europe/Vienna",
        "battery",
        1.0,
    )
    assert client.get("/meters/m-1", headers=ADMIN).json()["timezone"] == "Europe/Vienna"


def test_patch_bad_time_zone_is_422_naming_the_field(client: TestClient) -> None:
    create_meter(client, "m-1")
    error = error_of(client.patch("/meters/m-1", json={"timezone": "Europe/Nowhere"}, headers=ADMIN), 422)
    assert error["code"] == "invalid_input"
    assert [d["field"] for d in error["details"]] == ["body.timezone"]
    assert "Europe/Nowhere" in error["message"]
    assert client.get("/meters/m-1", headers=ADMIN).json()["timezone"] == "Europe/Berlin"


def test_patch_null_for_a_required_field_is_422(client: TestClient) -> None:
    create_meter(client, "m-1", site="plant")
    error = error_of(client.patch("/meters/m-1", json={"site": None}, headers=ADMIN), 422)
    assert error["details"] == {"field": "site"}
    assert client.get("/meters/m-1", headers=ADMIN).json()["site"] == "plant"


def test_patch_unknown_meter_is_404(client: TestClient) -> None:
    error = error_of(client.patch("/meters/ghost", json={"site": "x"}, headers=ADMIN), 404)
    assert "ghost" in error["message"]


def test_delete_needs_admin_and_removes_readings(
    client: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    create_meter(client, "gone")
    create_meter(client, "kept")
    ingest(client, series("gone", utc(2026, 2, 2), [1.0, 2.0, 3.0]))
    ingest(client, series("kept", utc(2026, 2, 2), [4.0, 5.0]))
    assert row_count(client, "smart_meter_readings") == 5
    for meter_id in ("gone", "kept"):  # a bucketed query computes the rollups
        points = readings_query(client, meter_id, utc(2026, 2, 2), utc(2026, 2, 3), bucket="15m")["points"]
        assert len(points) == (3 if meter_id == "gone" else 2)
    assert row_count(client, "reading_rollups") == 5 + 4  # 15m + 1h + 1d rows: 3 + 1 + 1 and 2 + 1 + 1

    analyst = auth(make_key(client, Role.ANALYST))
    error = error_of(client.delete("/meters/gone", headers=analyst), 403)
    assert error["details"] == {"needed": "admin", "have": "analyst"}
    assert client.get("/meters/gone", headers=ADMIN).status_code == 200

    response = client.delete("/meters/gone", headers=ADMIN)
    assert response.status_code == 204 and response.content == b""
    error_of(client.get("/meters/gone", headers=ADMIN), 404)
    assert row_count(client, "smart_meter_readings") == 2  # only the other meter's rows remain
    assert row_count(client, "reading_rollups") == 4  # 2 x 15m + 1h + 1d of "kept"
    error_of(client.delete("/meters/gone", headers=ADMIN), 404)
    create_meter(client, "gone")  # the id is free again, without old data
    assert readings_query(client, "gone", utc(2026, 2, 2), utc(2026, 2, 3))["points"] == []


def test_viewer_reads_but_cannot_create(
    client: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    viewer = auth(make_key(client, Role.VIEWER))
    error_of(client.post("/meters", json={"meter_id": "m"}, headers=viewer), 403)
    assert client.get("/meters", headers=viewer).status_code == 200
    error_of(client.get("/meters"), 401)

"""Inputs at the edge (issue 9, defects 2 and 3), on SQLite and PostgreSQL.

NUL characters (U+0000) in any string are refused with 422 naming the field, the parameter or the CSV
row, and nothing is written (PostgreSQL text cannot hold them: they used to answer 500). Paging
parameters and other client numbers are bounded in the schema: offset 2**63 is a 422 naming the
parameter, not a 500 from a 64-bit overflow in the database.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.bounds import MAX_OFFSET
from tests.conftest import ADMIN_TOKEN, auth

ADMIN = auth(ADMIN_TOKEN)


def _refused(response: Any, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    fields = [d.get("field") for d in error["details"]]
    assert field in fields, error
    assert field in error["message"]
    return error  # type: ignore[no-any-return]


def _meter_count(client: TestClient) -> int:
    total: int = client.get("/meters", headers=ADMIN).json()["total"]
    return total


# --- NUL characters (defect 2) ---------------------------------------------------------------
def test_nul_in_body_query_and_path_is_422_and_writes_nothing(client: TestClient) -> None:
    body = {"meter_id": "m1", "site": "plant\x00north"}
    _refused(client.post("/meters", json=body, headers=ADMIN), "body.site")
    _refused(
        client.post("/meters", json={"meter_id": "m1", "obis_map": {"1-0:1.7.0\x00": "x"}}, headers=ADMIN),
        "body.obis_map.1-0:1.7.0\\u0000",
    )
    _refused(client.get("/meters", params={"site": "plant\x00"}, headers=ADMIN), "query.site")
    _refused(client.get("/meters/m%001", headers=ADMIN), "path.meter_id")
    _refused(client.delete("/meters/m%001", headers=ADMIN), "path.meter_id")
    _refused(client.get("/documents", params={"tag": "a\x00"}, headers=ADMIN), "query.tag")
    assert _meter_count(client) == 0
    # An escaped backslash before "u0000" is text, not a NUL.
    literal = client.post(
        "/meters",
        content=b'{"meter_id": "m1", "site": "C:\\\\u0000"}',
        headers=ADMIN | {"Content-Type": "application/json"},
    )
    assert literal.status_code == 201, literal.text
    assert literal.json()["site"] == "C:\\u0000"
    _refused(client.patch("/meters/m1", json={"site": "\x00"}, headers=ADMIN), "body.site")
    assert client.get("/meters/m1", headers=ADMIN).json()["site"] == "C:\\u0000"


def test_nul_in_csv_names_the_row_and_writes_nothing(client: TestClient) -> None:
    assert client.post("/meters", json={"meter_id": "m1"}, headers=ADMIN).status_code == 201
    csv = b"meter_id,ts,consumption_kw,quality\nm1,2026-02-02T00:00:00Z,1.0,ok\nm1,2026-02-02T00:15:00Z,2.0,o\x00k\n"
    raw = client.post("/ingest/meter-readings", content=csv, headers=ADMIN | {"Content-Type": "text/csv"})
    assert _refused(raw, "body")["details"][0]["row"] == 2
    upload = client.post(
        "/ingest/meter-readings", files={"file": ("readings.csv", csv, "text/csv")}, headers=ADMIN
    )
    assert _refused(upload, "body.file")["details"][0]["row"] == 2
    prices = b"market,product,ts,price_eur_mwh\nDE\x00LU,day_ahead,2026-02-02T00:00:00Z,1\n"
    _refused(
        client.post("/ingest/market-prices", content=prices, headers=ADMIN | {"Content-Type": "text/csv"}),
        "body",
    )
    readings = client.get(
        "/timeseries/readings",
        params={"meter_id": "m1", "from": "2026-02-01T00:00:00Z", "to": "2026-02-03T00:00:00Z"},
        headers=ADMIN,
    )
    assert readings.status_code == 200 and readings.json()["points"] == []


def test_nul_in_other_text_inputs(client: TestClient) -> None:
    form = client.post(
        "/ingest/doc",
        files={"file": ("note.txt", b"A note about the battery.", "text/plain")},
        data={"title": "a\x00b"},
        headers=ADMIN,
    )
    _refused(form, "body.title")
    _refused(client.post("/ingest/text", json={"title": "t", "text": "x\x00"}, headers=ADMIN), "body.text")
    _refused(client.post("/rag/ask", json={"question": "\x00?"}, headers=ADMIN), "body.question")
    _refused(client.get("/search", params={"q": "peak\x00"}, headers=ADMIN), "query.q")
    telegram = client.post(
        "/ingest/dsmr", content=b"/ISK5\x00", headers=ADMIN | {"Content-Type": "text/plain"}
    )
    _refused(telegram, "body")
    yaml_rules = '- name: r1\n  when: "soc_pct < 20"\n  then: notify\n  site: "depot\\0"\n'
    imported = client.post(
        "/rules/import", content=yaml_rules, headers=ADMIN | {"Content-Type": "application/yaml"}
    )
    _refused(imported, "body[0].site")
    assert client.get("/rules", headers=ADMIN).json()["total"] == 0
    assert client.get("/documents", headers=ADMIN).json()["total"] == 0


def test_binary_bodies_may_hold_nul_bytes(client: TestClient) -> None:
    """SML frames are binary: a NUL byte there is data, not text (the frame is refused for what it is)."""
    frame = client.post(
        "/ingest/sml", content=b"\x00\x01\x02", headers=ADMIN | {"Content-Type": "application/octet-stream"}
    )
    assert frame.status_code == 422 and "SML" in frame.json()["error"]["message"], frame.text


# --- bounds (defect 3) -----------------------------------------------------------------------
def _list_routes(client: TestClient) -> list[str]:
    """Every GET operation of the OpenAPI document that pages with `offset`."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return sorted(
        path
        for path, operations in paths.items()
        if any(p["name"] == "offset" for p in operations.get("get", {}).get("parameters", []))
    )


def test_every_paging_route_is_found() -> None:
    """The parametrisation below covers every route that pages (the document is the source)."""
    from luna_iems.main import create_app
    from luna_iems.settings import Settings

    app = create_app(Settings(_env_file=None))
    with TestClient(app) as _:
        pass
    found = set(_list_routes(TestClient(app)))
    assert found == set(PAGING_ROUTES)


PAGING_ROUTES = [
    "/admin/audit",
    "/alerts",
    "/documents",
    "/documents/{item_id}/chunks",
    "/integrations/webhooks/deliveries",
    "/meters",
    "/scenarios",
]


@pytest.mark.parametrize("route", PAGING_ROUTES)
def test_huge_offsets_and_limits_are_422_naming_the_parameter(client: TestClient, route: str) -> None:
    path = route.replace("{item_id}", str(uuid.uuid4()))
    for offset in (2**63, 2**63 - 1, 2**64, MAX_OFFSET + 1, -1):
        _refused(client.get(path, params={"offset": offset}, headers=ADMIN), "query.offset")
    _refused(client.get(path, params={"limit": 2**63}, headers=ADMIN), "query.limit")
    fine = client.get(path, params={"offset": MAX_OFFSET}, headers=ADMIN)
    assert fine.status_code == (404 if "{" in route else 200), fine.text
    if fine.status_code == 200:
        assert fine.json()["items"] == []


def test_other_client_numbers_are_bounded(client: TestClient) -> None:
    huge = 2**63
    _refused(client.post("/meters", json={"meter_id": "m1", "lat": huge}, headers=ADMIN), "body.lat")
    _refused(client.get("/search", params={"q": "x", "top_k": huge}, headers=ADMIN), "query.top_k")
    _refused(client.get("/alerts", params={"since": "0.5"}, headers=ADMIN), "query.since")
    body = {"inputs": {"load_kw": [huge], "import_price_eur_kwh": [0.1]}}
    _refused(client.post("/optimize/schedule", json=body, headers=ADMIN), "body.inputs.load_kw[0]")
    battery = {"capacity_kwh": 1e300, "charge_max_kw": 1, "discharge_max_kw": 1}
    body = {"inputs": {"load_kw": [1], "import_price_eur_kwh": [0.1]}, "batteries": [battery]}
    _refused(client.post("/optimize/schedule", json=body, headers=ADMIN), "body.batteries[0].capacity_kwh")
    forecast = {"target": "price", "at": "9999-12-31T23:00:00Z"}
    _refused(client.post("/forecast", json=forecast, headers=ADMIN), "body.at")
    _refused(client.post("/meters", json={"meter_id": "m" * 101}, headers=ADMIN), "body.meter_id")
    _refused(
        client.get(
            "/kpis",
            params={"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "site": "s" * 101},
            headers=ADMIN,
        ),
        "query.site",
    )
    assert _meter_count(client) == 0


def test_imported_rules_bound_their_site(client: TestClient) -> None:
    """A site longer than the column (100) used to reach the database (500 on PostgreSQL)."""
    yaml_rules = f'- name: r1\n  when: "soc_pct < 20"\n  then: notify\n  site: "{"s" * 101}"\n'
    imported = client.post(
        "/rules/import", content=yaml_rules, headers=ADMIN | {"Content-Type": "application/yaml"}
    )
    assert imported.status_code == 422, imported.text
    assert client.get("/rules", headers=ADMIN).json()["total"] == 0


def test_multipart_names_and_utf16_files(sqlite_client: TestClient) -> None:
    """A NUL in a part's file name is refused; a UTF-16 file (NUL bytes, with its byte-order mark) is
    not taken for NUL characters: its parser judges it."""
    # (httpx would percent-encode the NUL of a file name: a raw part header, as a hostile client sends)
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a\x00.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nmeter_id,ts\n\r\n--b--\r\n"
    )
    headers = ADMIN | {"Content-Type": "multipart/form-data; boundary=b"}
    named = sqlite_client.post("/ingest/meter-readings", content=body, headers=headers)
    _refused(named, "body.file")
    utf16 = "meter_id,ts\nm1,2026-02-02T00:00:00Z\n".encode("utf-16")
    response = sqlite_client.post(
        "/ingest/meter-readings", files={"file": ("r.csv", utf16, "text/csv")}, headers=ADMIN
    )
    assert response.status_code == 422, response.text
    assert "UTF-8" in response.json()["error"]["message"]

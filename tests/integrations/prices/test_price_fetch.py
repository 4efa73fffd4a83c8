"""The scheduled price fetch against a loopback HTTP double of the ENTSO-E Transparency API.

The ENTSO-E API cannot run here, so a real HTTP server on 127.0.0.1 (tests/support/loopback.py) speaks
its documented wire protocol: `GET /api?documentType=A44&in_Domain=...&out_Domain=...&periodStart=
yyyyMMddHHmm&periodEnd=...&securityToken=...`, answering the real A44 sample, Acknowledgement documents
("No matching data found" = not published yet), 401 for an unknown token, 429 and 503. The product's
own httpx client, A44 parser and price ingest run unchanged. The clock is injected: no sleeps, and no
assertion about how long anything took. SQLite and PostgreSQL (the `database_url` fixture).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from luna_iems.db.engine import build_engine, build_session_factory
from luna_iems.decisions.models import Alert
from luna_iems.integrations.prices import service
from luna_iems.integrations.prices.deps import PriceFetchDeps
from luna_iems.settings import Settings
from luna_iems.timeseries.models import MarketPrice
from tests.conftest import make_settings
from tests.support.loopback import Loopback, Recorded, loopback_server

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SAMPLE = (FIXTURES / "samples" / "entsoe_A44_DE-LU_2026-02-02_PT15M.xml").read_bytes()
NO_DATA = (FIXTURES / "entsoe" / "acknowledgement_no_data.xml").read_bytes()
INVALID_QUERY = (FIXTURES / "entsoe" / "acknowledgement_invalid_query.xml").read_bytes()
GAP = (FIXTURES / "entsoe" / "a44_DE-LU_2026-02-02_PT60M_gap.xml").read_bytes()
TOKEN = "0123abcd-test-token-4567"
AREA = "10Y1001A1001A82H"
BERLIN = ZoneInfo("Europe/Berlin")
# 13:00 in Berlin the day before delivery: the fetch targets 2026-02-02 = [2026-02-01T23:00Z, 02T23:00Z).
PUBLISHED = datetime(2026, 2, 1, 13, 0, tzinfo=BERLIN)
DAY_START, DAY_END = datetime(2026, 2, 1, 23, tzinfo=UTC), datetime(2026, 2, 2, 23, tzinfo=UTC)
NS = "{urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3}"

Reply = tuple[int, dict[str, str], bytes]


def xml(body: bytes, status: int = 200) -> Reply:
    return status, {"Content-Type": "text/xml"}, body


@dataclass
class EntsoeDouble:
    """Checks each request's parameters and token; answers from `script` first, then `default`."""

    token: str = TOKEN
    script: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=lambda: xml(SAMPLE))
    params: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, record: Recorded) -> Reply:
        query = {k: v[0] for k, v in parse_qs(urlsplit(record.path).query).items()}
        self.params.append(query)
        if query.get("securityToken") != self.token:
            return 401, {"Content-Type": "text/html"}, b"<html><body><h1>401 Unauthorized</h1></body></html>"
        expected = {"documentType": "A44", "in_Domain": AREA, "out_Domain": AREA}
        if any(query.get(k) != v for k, v in expected.items()) or not {"periodStart", "periodEnd"} <= set(
            query
        ):
            return xml(INVALID_QUERY, 400)
        return self.script.pop(0) if self.script else self.default


@dataclass
class Clock:
    now: datetime

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def entsoe() -> Iterator[tuple[Loopback, EntsoeDouble]]:
    double = EntsoeDouble()
    with loopback_server({("GET", "/api"): double}) as server:
        yield server, double


DepsFactory = Callable[..., PriceFetchDeps]


@pytest.fixture
def make_deps(tmp_path: Path, database_url: str) -> Iterator[DepsFactory]:
    """PriceFetchDeps on the parametrised database with settings overrides and an injected clock."""
    engines: list[Engine] = []

    def make(clock: Clock, **overrides: object) -> PriceFetchDeps:
        settings: Settings = make_settings(tmp_path, database_url=database_url, **overrides)
        engines.append(build_engine(settings.resolved_database_url))
        factory = build_session_factory(engines[-1])
        return PriceFetchDeps(session_factory=factory, settings=settings, clock=lambda: clock.now)

    yield make
    for engine in engines:  # before the database is dropped
        engine.dispose()


@pytest.fixture
def fetch_env(
    make_deps: DepsFactory, entsoe: tuple[Loopback, EntsoeDouble]
) -> tuple[PriceFetchDeps, EntsoeDouble, Clock]:
    server, double = entsoe
    clock = Clock(PUBLISHED.astimezone(UTC))
    deps = make_deps(clock, entsoe_token=TOKEN, entsoe_url=f"{server.url}/api", entsoe_area=AREA)
    return deps, double, clock


def stored_prices(deps: PriceFetchDeps) -> dict[datetime, float]:
    with deps.session_factory() as session:
        rows = session.scalars(select(MarketPrice).where(MarketPrice.market == "DE-LU")).all()
        return {r.ts.astimezone(UTC): r.price_eur_mwh for r in rows}


def alerts(deps: PriceFetchDeps, kind: str | None = None) -> list[Alert]:
    with deps.session_factory() as session:
        query = select(Alert).where(Alert.source == "prices")
        if kind is not None:
            query = query.where(Alert.kind == kind)
        return list(session.scalars(query).all())


def sample_curve(document: bytes, *, sequence: str = "1") -> dict[datetime, float]:
    """The sample's prices read independently of the product's parser: every Period of the
    classificationSequence-1 series, with the A03 rule (an omitted position repeats the one before)."""
    curve: dict[datetime, float] = {}
    for series in ElementTree.fromstring(document).iter(f"{NS}TimeSeries"):
        if series.findtext(f"{NS}classificationSequence_AttributeInstanceComponent.position") != sequence:
            continue
        for period in series.iter(f"{NS}Period"):
            start = datetime.fromisoformat(period.findtext(f"{NS}timeInterval/{NS}start") or "")
            end = datetime.fromisoformat(period.findtext(f"{NS}timeInterval/{NS}end") or "")
            assert period.findtext(f"{NS}resolution") == "PT15M"
            points = {
                int(p.findtext(f"{NS}position") or 0): float(p.findtext(f"{NS}price.amount") or "nan")
                for p in period.iter(f"{NS}Point")
            }
            last = None
            for position in range(1, int((end - start) / timedelta(minutes=15)) + 1):
                last = points.get(position, last)
                assert last is not None
                curve[start + (position - 1) * timedelta(minutes=15)] = last
    return curve


# --- ENTSO-E ---------------------------------------------------------------------------------------------
def test_fetch_stores_the_sample_and_a_refetch_never_duplicates(
    fetch_env: tuple[PriceFetchDeps, EntsoeDouble, Clock],
) -> None:
    deps, double, clock = fetch_env
    status = service.run_due(deps)
    assert double.params == [
        {
            "documentType": "A44",
            "in_Domain": AREA,
            "out_Domain": AREA,
            "periodStart": "202602012300",  # local midnight of the delivery day, in UTC
            "periodEnd": "202602022300",
            "securityToken": TOKEN,
        }
    ]
    expected = sample_curve(SAMPLE)
    assert len(expected) == 2 * 96  # the document covers two delivery days
    assert stored_prices(deps) == pytest.approx(expected)
    # The series of 95 points: A03 omits a repeated price, which is forward-filled.
    with_omission = [
        s for s in ElementTree.fromstring(SAMPLE).iter(f"{NS}Period") if len(list(s.iter(f"{NS}Point"))) == 95
    ]
    assert with_omission
    [item] = status.items
    assert item.status == "complete" and item.last_success_at == clock.now and item.last_error is None
    assert (
        item.rows_last == 192 and item.target_day is not None and item.target_day.isoformat() == "2026-02-02"
    )
    assert alerts(deps) == []

    for _ in range(8):  # the day is complete: later ticks send nothing
        clock.advance(minutes=15)
        service.run_due(deps)
    assert len(double.params) == 1

    again = service.fetch_now(deps)  # an admin's refetch: one request, rows updated, none added
    assert len(double.params) == 2
    assert stored_prices(deps) == pytest.approx(expected)
    assert again.items[0].status == "complete" and again.items[0].attempts == 2


def test_not_published_429_and_503_are_retried_with_backoff(
    fetch_env: tuple[PriceFetchDeps, EntsoeDouble, Clock],
) -> None:
    deps, double, clock = fetch_env
    double.script = [
        (429, {"Content-Type": "text/plain", "Retry-After": "1200"}, b"Too many requests"),
        xml(b"<html>Service Unavailable</html>", 503),
        xml(NO_DATA),
    ]
    first = service.run_due(deps).items[0]  # 13:00: 429, Retry-After 20 min > the 15-min interval
    assert first.status == "backoff" and first.failures == 1
    assert first.next_attempt_at == clock.now + timedelta(minutes=20)
    assert "429" in (first.last_error or "") and TOKEN not in (first.last_error or "")

    clock.advance(minutes=15)  # 13:15: still backing off
    service.run_due(deps)
    assert len(double.params) == 1
    clock.advance(minutes=5)  # 13:20: 503, the second failure waits twice the interval
    second = service.run_due(deps).items[0]
    assert second.status == "backoff" and second.failures == 2
    assert second.next_attempt_at == clock.now + timedelta(minutes=30)

    clock.advance(minutes=30)  # 13:50: published? not yet ("No matching data found")
    third = service.run_due(deps).items[0]
    assert third.status == "waiting" and third.failures == 0
    assert "No matching data found" in (third.last_error or "")
    assert third.next_attempt_at == clock.now + timedelta(minutes=15)

    clock.advance(minutes=15)  # 14:05: the prices
    done = service.run_due(deps).items[0]
    assert done.status == "complete" and done.attempts == 4 and len(double.params) == 4
    assert stored_prices(deps) == pytest.approx(sample_curve(SAMPLE))
    assert alerts(deps) == []  # retried in time: nothing to alert about


def test_a_gap_in_the_curve_raises_one_alert(fetch_env: tuple[PriceFetchDeps, EntsoeDouble, Clock]) -> None:
    deps, double, clock = fetch_env
    double.default = xml(GAP)  # hourly; 09:00-10:00 UTC is in no Period
    item = service.run_due(deps).items[0]
    assert item.status == "incomplete" and "1 of the day's steps missing" in (item.last_error or "")
    stored = stored_prices(deps)
    assert len(stored) == 23 and datetime(2026, 2, 2, 9, tzinfo=UTC) not in stored
    for _ in range(4):  # retried (a corrected document may follow) and re-checked: still one alert
        clock.advance(minutes=15)
        service.run_due(deps)
    [gap] = alerts(deps, "price_gap")
    assert gap.severity == "warning" and gap.evidence["missing"] == ["2026-02-02T09:00:00+00:00"]
    assert gap.start_at == DAY_START and gap.end_at == DAY_END
    assert len(double.params) == 5

    double.default = xml(SAMPLE)  # the full curve arrives: complete, no new alert
    clock.advance(minutes=15)
    assert service.run_due(deps).items[0].status == "complete"
    assert len(alerts(deps, "price_gap")) == 1


def test_late_publication_alerts_once_at_the_cutoff(
    fetch_env: tuple[PriceFetchDeps, EntsoeDouble, Clock],
) -> None:
    deps, double, clock = fetch_env
    double.default = xml(NO_DATA)
    cutoff = datetime(2026, 2, 1, 18, 0, tzinfo=BERLIN)
    while clock.now < cutoff:
        service.run_due(deps)
        assert alerts(deps, "price_late") == []
        clock.advance(minutes=5)  # the job ticks more often than the retry interval
    before = len(double.params)
    assert before == 20  # 13:00 to 17:45, every PRICE_FETCH_RETRY_MIN (15 min)

    for _ in range(24):  # 18:00 to 19:55
        service.run_due(deps)
        clock.advance(minutes=5)
    [late] = alerts(deps, "price_late")
    assert "2026-02-02" in late.message and "18:00" in late.message
    assert late.start_at == DAY_START
    assert len(double.params) - before == 2  # past the cut-off: hourly (18:00 and 19:00)


def test_a_refused_token_alerts_and_stops_retrying(
    fetch_env: tuple[PriceFetchDeps, EntsoeDouble, Clock],
) -> None:
    deps, double, clock = fetch_env
    double.token = "the-real-token"  # ours is not it: 401
    item = service.run_due(deps).items[0]
    assert item.status == "blocked" and "401" in (item.last_error or "")
    for _ in range(60):  # five hours of ticks: no retry storm, no second request at all
        clock.advance(minutes=5)
        service.run_due(deps)
    assert len(double.params) == 1
    [auth] = alerts(deps, "price_auth")
    assert auth.severity == "critical" and "ENTSOE_TOKEN" in auth.message and TOKEN not in auth.message
    assert len(alerts(deps, "price_late")) == 1  # the day is late too: both are true

    double.token = TOKEN  # fixed at the source; an admin fetches by hand
    assert service.fetch_now(deps).items[0].status == "complete"
    assert len(double.params) == 2


def test_a_rejected_query_is_an_error_not_a_retry_loop(
    make_deps: DepsFactory, entsoe: tuple[Loopback, EntsoeDouble]
) -> None:
    server, _ = entsoe
    clock = Clock(PUBLISHED.astimezone(UTC))
    deps = make_deps(
        clock, entsoe_token=TOKEN, entsoe_url=f"{server.url}/api", entsoe_area="10YAT-APG------L"
    )
    item = service.run_due(deps).items[0]
    assert item.status == "error" and "Invalid query attributes" in (item.last_error or "")
    assert item.next_attempt_at == clock.now + timedelta(minutes=120)  # PRICE_FETCH_BACKOFF_MAX_MIN
    assert len(alerts(deps, "price_rejected")) == 1


# --- a generic URL ---------------------------------------------------------------------------------------
def hourly_rows(start: datetime, hours: int) -> list[tuple[datetime, float]]:
    return [(start + timedelta(hours=h), 50.0 + h) for h in range(hours)]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_url_source_in_csv_and_json(make_deps: DepsFactory, fmt: str) -> None:
    rows = hourly_rows(DAY_START, 24)
    if fmt == "csv":
        body = "market,product,ts,price_eur_mwh\n" + "".join(
            f"DE-LU,day_ahead,{ts.isoformat()},{price}\n" for ts, price in rows
        )
        reply: Callable[[Recorded], Reply] = lambda _r: (200, {"Content-Type": "text/csv"}, body.encode())  # noqa: E731
    else:
        import json

        payload = {"rows": [{"ts": ts.isoformat(), "price_eur_mwh": price} for ts, price in rows]}
        reply = lambda _r: (200, {"Content-Type": "application/json"}, json.dumps(payload).encode())  # noqa: E731
    with loopback_server({("GET", "/prices"): reply}) as server:
        clock = Clock(PUBLISHED.astimezone(UTC))
        deps = make_deps(clock, price_source_url=f"{server.url}/prices?key=secret", price_source_format=fmt)
        [item] = service.run_due(deps).items
        assert item.source == "url" and item.status == "complete", item.last_error
        assert "secret" not in item.target
        service.fetch_now(deps)
        assert len(server.requests) == 2
    assert stored_prices(deps) == {ts: price for ts, price in rows}  # 24 hourly prices, no duplicates


def test_url_source_with_an_invalid_document_alerts(make_deps: DepsFactory) -> None:
    body = b"market,product,ts,price_eur_mwh\nDE-LU,day_ahead,not-a-time,12\n"
    with loopback_server({("GET", "/p.csv"): lambda _r: (200, {}, body)}) as server:
        deps = make_deps(Clock(PUBLISHED.astimezone(UTC)), price_source_url=f"{server.url}/p.csv")
        item = service.run_due(deps).items[0]
    assert item.status == "error" and "invalid price document" in (item.last_error or "")
    assert len(alerts(deps, "price_invalid")) == 1
    assert stored_prices(deps) == {}

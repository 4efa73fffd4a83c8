"""HTTP routes of the time-series domain: meters, ingest, queries, KPIs, data quality."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from luna_iems.api_docs import body_ref
from luna_iems.bounds import ID_MAX_CHARS, IdQuery, MarketQuery, Offset, Timestamp
from luna_iems.db.timebucket import Bucket
from luna_iems.deps import AdminKey, AnalystKey, ContainerDep, SessionDep, TimeseriesDepsDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, BODY_ERRORS, InvalidInputError, error_responses
from luna_iems.tariffs import service as tariff_service
from luna_iems.timeseries import ingest as ingest_service
from luna_iems.timeseries import kpis as kpi_service
from luna_iems.timeseries import series as series_service
from luna_iems.timeseries import service as timeseries_service
from luna_iems.timeseries.schemas import (
    METER_ID_PATTERN,
    Agg,
    BatteryStateBatch,
    BatteryStateList,
    BatteryStatesWritten,
    IngestResult,
    Kpis,
    MeterCreate,
    MeterKind,
    MeterList,
    MeterRead,
    MeterUpdate,
    PriceBatch,
    PriceSeriesRead,
    QualityList,
    ReadingBatch,
    ReadingColumns,
    ReadingPoint,
    ReadingSeries,
    TimeZoneName,
)

router = APIRouter(tags=["energy data"], responses=AUTHENTICATED_ERRORS)
_NOT_FOUND = error_responses(404)  # a meter (or a site's meters) the request names does not exist
_INGEST_ERRORS = BODY_ERRORS | error_responses(404, 415)

From = Annotated[Timestamp, Query(alias="from", description="Start (inclusive), ISO 8601 with offset")]
To = Annotated[Timestamp, Query(alias="to", description="End (exclusive), ISO 8601 with offset")]
MeterIdPath = Annotated[str, Path(min_length=1, max_length=ID_MAX_CHARS)]
MeterIdQuery = Annotated[str, Query(min_length=1, max_length=ID_MAX_CHARS)]
TimeZoneQuery = Annotated[TimeZoneName | None, Query(description="IANA time zone, e.g. Europe/Berlin")]
# A meter a telegram or frame creates needs a valid meter id (see MeterId).
NewMeterIdQuery = Annotated[
    str | None, Query(min_length=1, max_length=ID_MAX_CHARS, pattern=METER_ID_PATTERN)
]


def _body_doc(*types: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": dict(types)}}


_TEXT = {"type": "string"}
_FILE_FORM = {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
_READING_CSV = (
    "meter_id,ts,consumption_kw,production_kw,voltage,quality\nm1,2026-02-02T00:00:00+01:00,1.25,0,230.1,ok\n"
)
_PRICE_CSV = "market,product,ts,price_eur_mwh\nDE-LU,day_ahead,2026-02-02T00:00:00+01:00,100.41\n"
_READINGS_BODY = _body_doc(
    ("application/json", {"schema": body_ref(ReadingBatch)}),
    ("text/csv", {"schema": _TEXT, "example": _READING_CSV}),
    ("multipart/form-data", {"schema": _FILE_FORM}),
)
_PRICES_BODY = _body_doc(
    ("application/json", {"schema": body_ref(PriceBatch)}),
    ("text/csv", {"schema": _TEXT, "example": _PRICE_CSV}),
    # (OpenAPI 3.1 media types have no description: it goes on the schema)
    ("application/xml", {"schema": _TEXT | {"description": "ENTSO-E A44 Publication_MarketDocument"}}),
    ("multipart/form-data", {"schema": _FILE_FORM}),
)


# --- meters ---------------------------------------------------------------------------------
@router.post(
    "/meters",
    response_model=MeterRead,
    status_code=status.HTTP_201_CREATED,
    tags=["meters"],
    responses=BODY_ERRORS | error_responses(409),
)
def create_meter(meter_in: MeterCreate, session: SessionDep, _: AnalystKey) -> MeterRead:
    return timeseries_service.create_meter(session=session, meter_in=meter_in)


@router.get("/meters", response_model=MeterList, tags=["meters"])
def list_meters(
    session: SessionDep,
    _: ViewerKey,
    site: IdQuery = None,
    kind: MeterKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> MeterList:
    return timeseries_service.list_meters(session=session, site=site, kind=kind, limit=limit, offset=offset)


@router.get("/meters/{meter_id}", response_model=MeterRead, tags=["meters"], responses=_NOT_FOUND)
def get_meter(meter_id: MeterIdPath, session: SessionDep, _: ViewerKey) -> MeterRead:
    return MeterRead.model_validate(timeseries_service.get_meter(session=session, meter_id=meter_id))


@router.patch(
    "/meters/{meter_id}", response_model=MeterRead, tags=["meters"], responses=BODY_ERRORS | _NOT_FOUND
)
def update_meter(
    meter_id: MeterIdPath, meter_in: MeterUpdate, session: SessionDep, _: AnalystKey
) -> MeterRead:
    return timeseries_service.update_meter(session=session, meter_id=meter_id, meter_in=meter_in)


@router.delete(
    "/meters/{meter_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["meters"], responses=_NOT_FOUND
)
def delete_meter(meter_id: MeterIdPath, session: SessionDep, _: AdminKey) -> Response:
    """Delete a meter with all its readings and rollups (admin: this destroys data)."""
    timeseries_service.delete_meter(session=session, meter_id=meter_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- ingest ---------------------------------------------------------------------------------
async def _upload(request: Request) -> tuple[bytes, str]:
    """The request body and its media type; a multipart upload yields its `file` part."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        async with request.form() as form:  # closes the spooled upload files on exit
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise InvalidInputError(
                    "multipart upload needs a file field named 'file'", details={"field": "file"}
                )
            data = await upload.read()
        name = (upload.filename or "").lower()
        media = upload.content_type or ""
        if name.endswith(".csv"):
            media = "text/csv"
        elif name.endswith(".xml"):
            media = "application/xml"
        return data, media
    return await request.body(), media


@router.post(
    "/ingest/meter-readings",
    response_model=IngestResult,
    tags=["ingest"],
    openapi_extra=_READINGS_BODY,
    responses=_INGEST_ERRORS,
)
async def ingest_meter_readings(
    request: Request,
    deps: TimeseriesDepsDep,
    _: AnalystKey,
    create_meters: Annotated[bool, Query(description="Create unknown meters instead of 404")] = False,
) -> IngestResult:
    """A JSON batch `{"rows": [...]}` or a CSV upload of up to 100,000 readings, all or nothing.

    CSV columns: meter_id, ts (ISO 8601 with offset), consumption_kw, production_kw, voltage, quality.
    The same (meter_id, ts) again updates the row (replays never duplicate).
    """
    body, media = await _upload(request)
    return await run_in_threadpool(
        ingest_service.ingest_readings_body,
        deps=deps,
        body=body,
        media_type=media,
        create_meters=create_meters,
    )


@router.post(
    "/ingest/market-prices",
    response_model=IngestResult,
    tags=["ingest"],
    openapi_extra=_PRICES_BODY,
    responses=BODY_ERRORS | error_responses(415),
)
async def ingest_market_prices(
    request: Request,
    deps: TimeseriesDepsDep,
    _: AnalystKey,
    classification_sequence: Annotated[
        int, Query(ge=0, le=100, description="ENTSO-E: which classificationSequence to take; 0 = all")
    ] = 1,
) -> IngestResult:
    """Prices in EUR/MWh (15-minute or hourly): JSON `{"rows": [...]}`, CSV, or an ENTSO-E A44 document."""
    body, media = await _upload(request)
    return await run_in_threadpool(
        ingest_service.ingest_prices_body,
        deps=deps,
        body=body,
        media_type=media,
        classification_sequence=classification_sequence or None,
    )


@router.post(
    "/ingest/dsmr",
    response_model=IngestResult,
    tags=["ingest"],
    responses=_INGEST_ERRORS,
    openapi_extra=_body_doc(("text/plain", {"schema": _TEXT | {"description": "One DSMR P1 telegram"}})),
)
async def ingest_dsmr(
    request: Request,
    deps: TimeseriesDepsDep,
    _: AnalystKey,
    meter_id: Annotated[
        NewMeterIdQuery, Query(description="Default: 'dsmr-' + the equipment identifier")
    ] = None,
    create_meters: bool = False,
) -> IngestResult:
    """One DSMR P1 telegram (CRC checked); import/export power and voltage become one reading."""
    body = await request.body()
    return await run_in_threadpool(
        ingest_service.ingest_dsmr,
        deps=deps,
        telegram=body,
        meter_id=meter_id,
        create_meters=create_meters,
    )


@router.post(
    "/ingest/sml",
    response_model=IngestResult,
    tags=["ingest"],
    responses=_INGEST_ERRORS,
    openapi_extra=_body_doc(
        ("application/octet-stream", {"schema": {"type": "string", "format": "binary"}}),
        ("text/plain", {"schema": {"type": "string", "description": "The frame as hex"}}),
    ),
)
async def ingest_sml(
    request: Request,
    deps: TimeseriesDepsDep,
    _: AnalystKey,
    meter_id: Annotated[NewMeterIdQuery, Query(description="Default: 'sml-' + the meter's server id")] = None,
    create_meters: bool = False,
) -> IngestResult:
    """One SML frame (binary, or hex as text). SML frames carry no time: the reading is stamped on arrival."""
    body = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return await run_in_threadpool(
        ingest_service.ingest_sml,
        deps=deps,
        frame=body,
        hex_text=media.startswith("text/"),
        meter_id=meter_id,
        create_meters=create_meters,
    )


# --- queries --------------------------------------------------------------------------------
# The query parameters of GET /timeseries/readings and its columnar twin (the same question).
BucketCalendar = Annotated[
    TimeZoneQuery, Query(description="Calendar for 1d/1w/1mo buckets; default: the meter's")
]
RawLimit = Annotated[int, Query(ge=1, le=100_000, description="Raw rows at most (no bucket)")]


@router.get(
    "/timeseries/readings",
    response_model=ReadingSeries,
    response_model_exclude_none=True,
    tags=["queries"],
    responses=_NOT_FOUND,
)
def get_readings(
    session: SessionDep,
    _: ViewerKey,
    meter_id: MeterIdQuery,
    ts_from: From,
    ts_to: To,
    bucket: Bucket | None = None,
    agg: Agg = "avg",
    tz: BucketCalendar = None,
    limit: RawLimit = 10_000,
) -> ReadingSeries:
    """Readings of a meter: raw (no bucket) or per bucket. agg=sum gives kWh, the others kW."""
    return timeseries_service.query_readings(
        session=session,
        meter_id=meter_id,
        ts_from=ts_from,
        ts_to=ts_to,
        bucket=bucket,
        agg=agg,
        tz_name=tz,
        limit=limit,
    )


@router.get(
    "/timeseries/readings/columns",
    response_model=ReadingColumns,
    response_model_exclude_none=True,
    tags=["queries"],
    responses=_NOT_FOUND,
)
def get_reading_columns(
    session: SessionDep,
    _: ViewerKey,
    meter_id: MeterIdQuery,
    ts_from: From,
    ts_to: To,
    bucket: Bucket | None = None,
    agg: Agg = "avg",
    tz: BucketCalendar = None,
    limit: RawLimit = 10_000,
) -> Response:
    """The readings of `GET /timeseries/readings` as parallel arrays (`ts`, `consumption_kw`, ...):
    the same numbers, for long ranges — a year of 15-minute buckets is one small answer."""
    columns = series_service.reading_columns(
        session=session,
        meter_id=meter_id,
        ts_from=ts_from,
        ts_to=ts_to,
        bucket=bucket,
        agg=agg,
        tz_name=tz,
        limit=limit,
    )
    # Built from plain rows and written once: no model per point (the documented shape is ReadingColumns).
    return Response(orjson.dumps(columns), media_type="application/json")


@router.get(
    "/timeseries/readings/latest",
    response_model=ReadingPoint,
    response_model_exclude_none=True,
    tags=["queries"],
    responses=_NOT_FOUND,
)
def get_latest_reading(session: SessionDep, _: ViewerKey, meter_id: MeterIdQuery) -> ReadingPoint:
    return timeseries_service.latest_reading(session=session, meter_id=meter_id)


@router.post(
    "/ingest/battery-states", response_model=BatteryStatesWritten, tags=["ingest"], responses=BODY_ERRORS
)
def ingest_battery_states(
    body: BatteryStateBatch, session: SessionDep, _: AnalystKey
) -> BatteryStatesWritten:
    """Batteries' state of charge (and power, + = discharge) as inverters report them; rules read the
    newest state of a site's batteries as `soc_pct`. Replays update, never duplicate."""
    return timeseries_service.ingest_battery_states(session=session, rows=body.rows)


@router.get("/timeseries/battery-states", response_model=BatteryStateList, tags=["queries"])
def get_battery_states(
    session: SessionDep,
    _: ViewerKey,
    ts_from: From,
    ts_to: To,
    battery_id: IdQuery = None,
    site: IdQuery = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> BatteryStateList:
    return timeseries_service.list_battery_states(
        session=session, battery_id=battery_id, site=site, ts_from=ts_from, ts_to=ts_to, limit=limit
    )


@router.get("/timeseries/prices", response_model=PriceSeriesRead, tags=["queries"])
def get_prices(
    session: SessionDep,
    container: ContainerDep,
    _: ViewerKey,
    ts_from: From,
    ts_to: To,
    market: MarketQuery = None,
    product: MarketQuery = None,
    bucket: Bucket | None = None,
    agg: Agg = "avg",
    tz: TimeZoneQuery = None,
) -> PriceSeriesRead:
    settings = container.settings
    return timeseries_service.query_prices(
        session=session,
        market=market or settings.default_market,
        product=product or settings.default_product,
        ts_from=ts_from,
        ts_to=ts_to,
        bucket=bucket,
        agg=agg,
        tz_name=tz or settings.timezone,
    )


@router.get("/kpis", response_model=Kpis, tags=["queries"], responses=_NOT_FOUND)
def get_kpis(
    session: SessionDep,
    container: ContainerDep,
    _: ViewerKey,
    ts_from: From,
    ts_to: To,
    meter_id: IdQuery = None,
    site: IdQuery = None,
    market: MarketQuery = None,
    product: MarketQuery = None,
) -> Kpis:
    """Consumption, production, import, export (kWh), self-consumption, autarky, peak, load factor, cost."""
    settings = container.settings
    return kpi_service.compute_kpis(
        session=session,
        meter_id=meter_id,
        site=site,
        ts_from=ts_from,
        ts_to=ts_to,
        market=market or settings.default_market,
        product=product or settings.default_product,
        timezone=settings.timezone,
        default_tariff=tariff_service.supply_tariff(settings),
    )


@router.get("/quality", response_model=QualityList, tags=["queries"])
def get_quality(
    session: SessionDep,
    _: ViewerKey,
    meter_id: Annotated[
        str | None,
        Query(max_length=2 * ID_MAX_CHARS, description="A meter id, or 'market/product' for prices"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> QualityList:
    """Data quality per ingest batch and series, newest first."""
    return timeseries_service.list_quality(session=session, series=meter_id, limit=limit)

"""Ingest entry points shared by HTTP, MQTT and the simulator: bodies and meter formats -> readings.

Every path ends in `timeseries.service.ingest_readings` / `ingest_prices`, so validation, quality,
idempotence and rollup bookkeeping are the same whatever the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from luna_iems.errors import InvalidInputError, UnsupportedMediaTypeError
from luna_iems.settings import Settings
from luna_iems.timeseries import parsing
from luna_iems.timeseries import repository as timeseries_repository
from luna_iems.timeseries import service as timeseries_service
from luna_iems.timeseries.columnar import ReadingColumns, csv_reading_columns, reading_columns
from luna_iems.timeseries.deps import TimeseriesDeps
from luna_iems.timeseries.formats import MeterSample, parse_dsmr, parse_entsoe_a44, parse_sml
from luna_iems.timeseries.schemas import IngestResult, PriceIn, ReadingIn

# Default OBIS mapping of a meter: grid import power is what the site consumes from the grid,
# grid export power what it feeds in.
DEFAULT_OBIS_MAP = {"1-0:1.7.0": "consumption_kw", "1-0:2.7.0": "production_kw", "1-0:32.7.0": "voltage"}
_FIELDS = {"consumption_kw", "production_kw", "voltage"}


def retention_cutoff(settings: Settings) -> datetime | None:
    days = settings.raw_retention_days
    return datetime.now(tz=UTC) - timedelta(days=days) if days else None


def ingest_rows(
    deps: TimeseriesDeps, rows: Sequence[ReadingIn], *, source: str, create_meters: bool
) -> IngestResult:
    with deps.session_factory() as session:
        return timeseries_service.ingest_readings(
            session=session,
            rows=rows,
            source=source,
            create_meters=create_meters,
            retention_cutoff=retention_cutoff(deps.settings),
        )


def ingest_readings_body(
    *, deps: TimeseriesDeps, body: bytes, media_type: str, create_meters: bool
) -> IngestResult:
    """A JSON batch (`{"rows": [...], "create_meters"?: bool}` or a list) or a CSV document.

    One validation, two speeds: a batch valid as a whole goes to the write path as columns
    (`timeseries.columnar`); any other is validated row by row, which names the rows and fields.
    """
    if media_type in {"text/csv", "application/csv"}:
        columns = csv_reading_columns(body)
        if columns is None:  # not valid as a whole (or unusual): validate row by row for an exact 4xx
            rows = parsing.reading_rows_from_csv(body)
            return ingest_rows(deps, rows, source="csv", create_meters=create_meters)
        return _write_columns(deps, columns, source="csv", create_meters=create_meters)
    if media_type in {"application/json", ""}:
        raw_rows, extra = parsing.load_json_rows(body)
        create = parsing.batch_options(extra).create_meters or create_meters  # validated either way
        columns = reading_columns(raw_rows)
        if columns is None:  # not valid as a whole: validate row by row for an exact 422
            return ingest_rows(
                deps, parsing.validate_rows(ReadingIn, raw_rows), source="json", create_meters=create
            )
        return _write_columns(deps, columns, source="json", create_meters=create)
    raise _unsupported(media_type, "application/json, text/csv or multipart/form-data with a CSV file")


def _write_columns(
    deps: TimeseriesDeps, columns: ReadingColumns, *, source: str, create_meters: bool
) -> IngestResult:
    with deps.session_factory() as session:
        return timeseries_service.write_readings(
            session=session,
            meter_ids=columns.meter_ids,
            ts_us=columns.ts_us,
            consumption_kw=columns.consumption_kw,
            production_kw=columns.production_kw,
            voltage=columns.voltage,
            quality=columns.quality,
            source=source,
            create_meters=create_meters,
            retention_cutoff=retention_cutoff(deps.settings),
        )


def ingest_prices_body(
    *, deps: TimeseriesDeps, body: bytes, media_type: str, classification_sequence: int | None
) -> IngestResult:
    """JSON or CSV rows, or an ENTSO-E A44 XML document (all series merged, stored in UTC)."""
    if media_type in {"application/xml", "text/xml"}:
        rows = prices_from_entsoe(body, classification_sequence=classification_sequence)
        source = "entsoe"
    elif media_type in {"text/csv", "application/csv"}:
        rows, source = parsing.price_rows_from_csv(body), "csv"
    elif media_type in {"application/json", ""}:
        price_rows, extra = parsing.validate_json_rows(PriceIn, body)
        if extra:
            raise InvalidInputError(
                f"unknown top-level field(s): {', '.join(sorted(extra))}", details={"fields": sorted(extra)}
            )
        rows, source = price_rows, "json"
    else:
        raise _unsupported(media_type, "application/json, text/csv or application/xml (ENTSO-E A44)")
    with deps.session_factory() as session:
        return timeseries_service.ingest_prices(session=session, rows=rows, source=source)


def prices_from_entsoe(xml: bytes, *, classification_sequence: int | None) -> list[PriceIn]:
    rows = []
    for series in parse_entsoe_a44(xml, classification_sequence=classification_sequence):
        product = series.product
        if classification_sequence is None and series.classification_sequence not in (None, 1):
            product = f"{series.product}_seq{series.classification_sequence}"
        rows += [
            PriceIn(market=series.market, product=product, ts=p.ts, price_eur_mwh=p.price_eur_mwh)
            for p in series.points
        ]
    return rows


def reading_from_sample(
    sample: MeterSample, *, meter_id: str, ts: datetime, obis_map: dict[str, str] | None = None
) -> ReadingIn:
    """Map a decoded meter sample onto a reading through the meter's OBIS mapping."""
    mapping = obis_map or DEFAULT_OBIS_MAP
    values: dict[str, float] = {}
    for code, field in mapping.items():
        if field in _FIELDS and code in sample.obis:
            values[field] = sample.obis[code]
    if not obis_map:
        # Formats without 1.7.0/2.7.0 (e.g. SML with only 16.7.0) still yield import/export power.
        derived = {
            "consumption_kw": sample.import_kw,
            "production_kw": sample.export_kw,
            "voltage": sample.voltage_v,
        }
        for field, value in derived.items():
            if value is not None:
                values.setdefault(field, value)
    return ReadingIn.model_validate({"meter_id": meter_id, "ts": ts, **values})


def _obis_map_of(deps: TimeseriesDeps, meter_id: str) -> dict[str, str] | None:
    with deps.session_factory() as session:
        meter = timeseries_repository.get_meter(session=session, meter_id=meter_id)
        return dict(meter.obis_map) if meter is not None and meter.obis_map else None


def ingest_dsmr(
    *, deps: TimeseriesDeps, telegram: bytes, meter_id: str | None, create_meters: bool
) -> IngestResult:
    sample = parse_dsmr(telegram)
    meter = meter_id or _default_meter_id("dsmr", sample)
    ts = sample.ts or datetime.now(tz=UTC)
    reading = reading_from_sample(sample, meter_id=meter, ts=ts, obis_map=_obis_map_of(deps, meter))
    return ingest_rows(deps, [reading], source="dsmr", create_meters=create_meters)


def ingest_sml(
    *, deps: TimeseriesDeps, frame: bytes, hex_text: bool, meter_id: str | None, create_meters: bool
) -> IngestResult:
    sample = parse_sml(frame.decode("ascii", errors="replace") if hex_text else frame)
    meter = meter_id or _default_meter_id("sml", sample)
    reading = reading_from_sample(
        sample, meter_id=meter, ts=datetime.now(tz=UTC), obis_map=_obis_map_of(deps, meter)
    )
    return ingest_rows(deps, [reading], source="sml", create_meters=create_meters)


def _default_meter_id(prefix: str, sample: MeterSample) -> str:
    if not sample.meter_serial:
        raise InvalidInputError(
            f"the {prefix.upper()} data names no meter: pass meter_id", details={"field": "meter_id"}
        )
    serial = "".join(ch for ch in sample.meter_serial if ch.isalnum() or ch in "._-")[:90]
    return f"{prefix}-{serial}"


def _unsupported(media_type: str, expected: str) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(
        f"content type {media_type or '(none)'!r} is not supported here; send {expected}",
        details={"content_type": media_type},
    )

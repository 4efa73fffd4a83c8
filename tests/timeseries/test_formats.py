"""The format parsers against real third-party samples (tests/fixtures/samples, see its README)."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from luna_iems.errors import InvalidInputError
from luna_iems.timeseries.formats import (
    FormatError,
    MeterSample,
    PriceSeries,
    parse_dsmr,
    parse_entsoe_a44,
    parse_json_reading,
    parse_sml,
    parse_tasmota_sensor,
)

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "samples"
RECEIVED = datetime(2026, 2, 2, 12, 0, 5, tzinfo=timezone(timedelta(hours=1)))


def sample_text(name: str) -> str:
    return (SAMPLES / name).read_bytes().decode("ascii")


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


# --------------------------------------------------------------------------- DSMR P1


def test_dsmr_v5_sample_decodes_exactly() -> None:
    text = sample_text("dsmr_v5_telegram.txt")
    assert "\r\n" in text  # the fixture kept its CRLF line endings
    sample = parse_dsmr(text)
    assert isinstance(sample, MeterSample)
    assert sample.import_kwh_total == 6.825  # 1.8.1 4.426 + 1.8.2 2.399
    assert sample.export_kwh_total == 2.444  # 2.8.1 2.444 + 2.8.2 0.000
    assert sample.import_kw == 0.244
    assert sample.export_kw == 0.0
    assert sample.voltage_v == 230.0
    assert sample.meter_serial == "K8EG004046395507"  # 96.1.1 hex-encoded ASCII
    # 170102192002W: 2017-01-02 19:20:02 CET (winter) = 18:20:02 UTC
    assert sample.ts == datetime(2017, 1, 2, 18, 20, 2, tzinfo=UTC)
    assert sample.ts is not None and sample.ts.utcoffset() == timedelta(0)
    assert sample.obis["1-0:1.8.1"] == 4.426
    assert sample.obis["1-0:1.8.2"] == 2.399
    assert sample.obis["1-0:52.7.0"] == 230.0
    assert sample.obis["1-0:72.7.0"] == 229.0
    assert sample.obis["1-0:31.7.0"] == 0.48
    assert sample.obis["1-0:61.7.0"] == 0.142
    assert sample.obis["0-0:96.7.21"] == 13.0  # unitless counter as sent
    assert sample.obis["0-1:24.2.1"] == 0.107  # gas, m3
    assert "1-0:1.8.0" not in sample.obis


def test_dsmr_bytes_input_gives_the_same_sample() -> None:
    assert parse_dsmr(sample_bytes("dsmr_v5_telegram.txt")) == parse_dsmr(sample_text("dsmr_v5_telegram.txt"))


def test_dsmr_v4_2_sample() -> None:
    sample = parse_dsmr(sample_bytes("dsmr_v4_2_telegram.txt"))
    assert sample.import_kwh_total == 3016.829  # 1581.123 + 1435.706
    assert sample.export_kwh_total == 0.0
    assert sample.import_kw == 2.027
    assert sample.export_kw == 0.0
    assert sample.voltage_v is None  # this telegram has no 32.7.0 line
    # 161113205757W: 2016-11-13 20:57:57 CET = 19:57:57 UTC
    assert sample.ts == datetime(2016, 11, 13, 19, 57, 57, tzinfo=UTC)
    assert sample.meter_serial == "3960221976967177082151037881335713"  # not printable ASCII: kept raw
    assert sample.obis["1-0:41.7.0"] == 1.247
    assert sample.obis["1-0:51.7.0"] == 6.0
    assert sample.obis["0-1:24.2.1"] == 981.443


def test_dsmr_fluvius_belgian_sample() -> None:
    sample = parse_dsmr(sample_bytes("dsmr_fluvius_v171_be_telegram.txt"))
    assert sample.import_kwh_total == 15.792  # 0.034 + 15.758
    assert sample.export_kwh_total == 0.011  # 0.000 + 0.011
    assert sample.import_kw == 0.0
    assert sample.export_kw == 0.0
    assert sample.voltage_v == 234.7
    assert sample.meter_serial == "1SAG3101021605"
    # 200512135409S: 2020-05-12 13:54:09 CEST (summer) = 11:54:09 UTC
    assert sample.ts == datetime(2020, 5, 12, 11, 54, 9, tzinfo=UTC)
    assert sample.obis["1-0:1.4.0"] == 2.351  # current average demand, kW
    assert sample.obis["1-0:1.6.0"] == 2.589  # maximum demand this month, kW
    assert sample.obis["0-1:24.2.3"] == 112.384  # gas, m3
    assert sample.obis["0-2:24.2.1"] == 872.234  # second M-Bus channel (water), m3


def test_dsmr_bad_crc_names_both_crcs() -> None:
    text = sample_text("dsmr_v5_telegram.txt")
    tampered = text.replace("1-0:1.8.1(000004.426*kWh)", "1-0:1.8.1(000004.427*kWh)")
    assert tampered != text
    with pytest.raises(FormatError, match=r"CRC mismatch: telegram says 6EEE, computed [0-9A-F]{4}") as info:
        parse_dsmr(tampered)
    assert info.value.details["crc_telegram"] == "6EEE"
    assert info.value.details["crc_computed"] != "6EEE"
    assert isinstance(info.value, InvalidInputError)


def test_dsmr_wrong_crc_line_reports_the_computed_one() -> None:
    text = sample_text("dsmr_v5_telegram.txt").replace("!6EEE", "!6EEF")
    with pytest.raises(FormatError) as info:
        parse_dsmr(text)
    assert info.value.message == "DSMR telegram CRC mismatch: telegram says 6EEF, computed 6EEE"


def test_dsmr_bad_value_with_valid_crc_names_the_line() -> None:
    from dsmr_parser.parsers import TelegramParser

    text = sample_text("dsmr_v5_telegram.txt").replace("1-0:1.7.0(00.244*kW)", "1-0:1.7.0(00.2.44*kW)")
    body = re.search(r"/.+!", text, re.DOTALL)
    assert body is not None
    text = text.replace("!6EEE", f"!{TelegramParser.crc16(body.group(0)):04X}")
    with pytest.raises(FormatError, match=r"invalid DSMR telegram line '1-0:1\.7\.0\(00\.2\.44\*kW\)'"):
        parse_dsmr(text)


def test_dsmr_lf_only_line_endings_still_parse() -> None:
    crlf = sample_text("dsmr_v5_telegram.txt")
    lf = crlf.replace("\r\n", "\n")
    assert "\r" not in lf
    assert parse_dsmr(lf) == parse_dsmr(crlf)
    assert parse_dsmr(lf.encode("ascii")).import_kwh_total == 6.825


def test_dsmr_garbage_and_truncation_are_format_errors() -> None:
    with pytest.raises(FormatError, match="no header line"):
        parse_dsmr("hello world")
    with pytest.raises(FormatError, match="not ASCII"):
        parse_dsmr(b"/ISK5\xff\xfe\r\n")
    truncated = sample_text("dsmr_v5_telegram.txt").split("!")[0][:200]
    with pytest.raises(FormatError, match="DSMR"):
        parse_dsmr(truncated)


# --------------------------------------------------------------------------- SML


def test_sml_sample_decodes_exactly() -> None:
    sample = parse_sml(sample_text("sml_frame_hly_meter.hex"))
    assert sample.ts is None  # the frame has no wall-clock time
    assert sample.import_kwh_total == 4499.8962  # 44998962 * 10^-1 Wh
    assert sample.export_kwh_total == 0.0
    assert sample.import_kw == 0.137  # 16.7.0 = +137 W
    assert sample.export_kw == 0.0
    assert sample.voltage_v == 234.4  # 2344 * 10^-1 V
    assert sample.meter_serial == "0a01484c5902000424a0"  # 1-0:96.1.0, hex as sent
    assert sample.obis["1-0:1.8.0"] == 4499.8962
    assert sample.obis["1-0:2.8.0"] == 0.0
    assert sample.obis["1-0:16.7.0"] == 0.137
    assert sample.obis["1-0:52.7.0"] == 234.5
    assert sample.obis["1-0:72.7.0"] == 233.8
    assert sample.obis["1-0:31.7.0"] == 0.41  # 41 * 10^-2 A
    assert sample.obis["1-0:51.7.0"] == 0.78
    assert sample.obis["1-0:71.7.0"] == 0.46
    assert sample.obis["1-0:14.7.0"] == 50.0  # Hz
    assert "1-0:1.7.0" not in sample.obis


def test_sml_raw_bytes_and_spaced_hex_give_the_same_sample() -> None:
    digits = sample_text("sml_frame_hly_meter.hex").strip()
    raw = bytes.fromhex(digits)
    assert len(raw) == 500
    spaced = "\n".join(
        " ".join(digits[i + j : i + j + 2] for j in range(0, 32, 2)) for i in range(0, len(digits), 32)
    )
    assert " " in spaced and "\n" in spaced
    expected = parse_sml(digits)
    assert parse_sml(raw) == expected
    assert parse_sml(spaced) == expected
    assert parse_sml(spaced.encode("ascii")) == expected
    assert parse_sml(b"\x00\x00garbage before the frame" + raw) == expected


def test_sml_negative_power_is_export() -> None:
    # 16.7.0 value 137 is encoded as 0x53 0089 (signed 16 bit): make it -137 (0xff77), fix the CRC.
    from smllib.crc import x25

    raw = bytearray(bytes.fromhex(sample_text("sml_frame_hly_meter.hex").strip()))
    at = raw.find(bytes.fromhex("5300890177"))
    assert at > 0
    raw[at + 1 : at + 3] = (-137).to_bytes(2, "big", signed=True)
    raw[-2:] = x25.get_crc(bytes(raw[:-2])).to_bytes(2, "big")
    sample = parse_sml(bytes(raw))
    assert sample.import_kw == 0.0
    assert sample.export_kw == 0.137
    assert sample.obis["1-0:16.7.0"] == -0.137


def test_sml_truncated_garbage_and_bad_crc_are_format_errors() -> None:
    raw = bytes.fromhex(sample_text("sml_frame_hly_meter.hex").strip())
    with pytest.raises(FormatError, match="incomplete SML frame"):
        parse_sml(raw[:250])
    with pytest.raises(FormatError, match="incomplete SML frame"):
        parse_sml(raw.hex()[:500])
    with pytest.raises(FormatError, match="missing escape sequence 1b1b1b1b"):
        parse_sml(b"\x00\x01\x02 not sml at all")
    with pytest.raises(FormatError, match="odd number of digits"):
        parse_sml(raw.hex()[:-1])
    with pytest.raises(FormatError, match="neither raw bytes nor hex"):
        parse_sml("this is not hex")
    corrupted = raw[:-1] + bytes([raw[-1] ^ 0xFF])
    with pytest.raises(FormatError, match="SML frame CRC mismatch"):
        parse_sml(corrupted)


# --------------------------------------------------------------------------- ENTSO-E A44

ENTSOE = "entsoe_A44_DE-LU_2026-02-02_PT15M.xml"


def test_entsoe_sdac_series_cover_both_days_in_quarter_hours() -> None:
    series = parse_entsoe_a44(sample_bytes(ENTSOE))  # classificationSequence 1 by default
    assert len(series) == 2
    assert all(isinstance(s, PriceSeries) for s in series)
    assert [len(s.points) for s in series] == [96, 96]
    for s in series:
        assert (s.market, s.product, s.resolution_minutes, s.currency) == ("DE-LU", "day_ahead", 15, "EUR")
        assert s.classification_sequence == 1
    points = [p for s in series for p in s.points]
    assert len(points) == 192
    assert points[0].ts == datetime(2026, 2, 1, 23, 0, tzinfo=UTC)
    assert points[-1].ts == datetime(2026, 2, 3, 22, 45, tzinfo=UTC)
    assert all(b.ts - a.ts == timedelta(minutes=15) for a, b in itertools.pairwise(points))
    assert [p.price_eur_mwh for p in series[0].points[:4]] == [100.41, 101.91, 100.04, 96.01]
    assert series[0].points[-1].price_eur_mwh == 85.61
    assert series[1].points[0].ts == datetime(2026, 2, 2, 23, 0, tzinfo=UTC)
    assert [p.price_eur_mwh for p in series[1].points[:4]] == [97.41, 92.88, 89.07, 87.51]
    assert series[1].points[-1].price_eur_mwh == 88.92


def test_entsoe_a03_gap_is_forward_filled() -> None:
    xml = sample_text(ENTSOE)
    # The day-2 sequence-2 series (TimeSeries mRID 3) lists 95 of 96 positions: 79 is omitted.
    block = xml.split("<TimeSeries>")[3]
    assert "<mRID>3</mRID>" in block
    assert "<position>79</position>" not in block
    assert "<position>78</position>\n                <price.amount>121.59</price.amount>" in block
    assert "<position>80</position>\n                <price.amount>108.47</price.amount>" in block

    series = parse_entsoe_a44(xml, classification_sequence=2)
    assert [s.classification_sequence for s in series] == [2, 2]
    day2 = series[1]
    assert len(day2.points) == 96
    assert [p.price_eur_mwh for p in day2.points[:4]] == [89.1, 87.1, 81.9, 76.9]
    filled = day2.points[78]  # position 79
    assert filled.ts == datetime(2026, 2, 3, 18, 30, tzinfo=UTC)
    assert filled.price_eur_mwh == day2.points[77].price_eur_mwh == 121.59
    assert day2.points[79].price_eur_mwh == 108.47
    assert series[0].points[0].price_eur_mwh == 102.1


def test_entsoe_all_sequences_in_time_order() -> None:
    series = parse_entsoe_a44(sample_bytes(ENTSOE), classification_sequence=None)
    assert len(series) == 4
    assert [(s.points[0].ts.day, s.classification_sequence) for s in series] == [
        (1, 1),
        (1, 2),
        (2, 1),
        (2, 2),
    ]
    assert sum(len(s.points) for s in series) == 384


def test_entsoe_missing_sequence_names_present_ones() -> None:
    with pytest.raises(FormatError) as info:
        parse_entsoe_a44(sample_bytes(ENTSOE), classification_sequence=3)
    assert (
        info.value.message
        == "ENTSO-E document has no TimeSeries with classificationSequence 3; present: 1, 2"
    )


def _document(*, doc_type: str = "A44", curve: str = "A01", positions: tuple[int, ...] = (1, 2, 3)) -> str:
    points = "".join(
        f"<Point><position>{p}</position><price.amount>{-5.5 + p}</price.amount></Point>" for p in positions
    )
    return (
        "<Publication_MarketDocument><type>" + doc_type + "</type><TimeSeries><mRID>1</mRID>"
        "<in_Domain.mRID>10YAT-APG------L</in_Domain.mRID><currency_Unit.name>EUR</currency_Unit.name>"
        "<price_Measure_Unit.name>MWH</price_Measure_Unit.name><curveType>" + curve + "</curveType>"
        "<Period><timeInterval><start>2026-02-01T23:00Z</start><end>2026-02-02T02:00Z</end></timeInterval>"
        "<resolution>PT60M</resolution>" + points + "</Period></TimeSeries></Publication_MarketDocument>"
    )


def test_entsoe_hourly_document_without_namespace_and_without_sequence() -> None:
    (series,) = parse_entsoe_a44(_document())
    assert (series.market, series.resolution_minutes, series.classification_sequence) == ("AT", 60, 1)
    assert [(p.ts.hour, p.price_eur_mwh) for p in series.points] == [(23, -4.5), (0, -3.5), (1, -2.5)]


def test_entsoe_a01_with_missing_position_is_refused() -> None:
    with pytest.raises(FormatError, match=r"curveType A01\) lacks positions \[2\]"):
        parse_entsoe_a44(_document(positions=(1, 3)))
    (series,) = parse_entsoe_a44(_document(curve="A03", positions=(1, 3)))
    assert [p.price_eur_mwh for p in series.points] == [-4.5, -4.5, -2.5]
    with pytest.raises(FormatError, match="out of range"):
        parse_entsoe_a44(_document(positions=(1, 2, 3, 4)))


def test_entsoe_wrong_document_type_is_refused() -> None:
    with pytest.raises(
        FormatError, match=r"not an ENTSO-E day-ahead price document: .* type A65 \(expected A44\)"
    ):
        parse_entsoe_a44(_document(doc_type="A65"))
    ack = (
        '<Acknowledgement_MarketDocument xmlns="urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:7:0">'
        "<Reason><code>999</code><text>No matching data found</text></Reason></Acknowledgement_MarketDocument>"
    )
    with pytest.raises(FormatError, match="acknowledgement instead of prices: No matching data found"):
        parse_entsoe_a44(ack)


def test_entsoe_malformed_or_hostile_xml_is_a_format_error() -> None:
    truncated = sample_bytes(ENTSOE)[:5000]
    with pytest.raises(FormatError, match="not well-formed XML"):
        parse_entsoe_a44(truncated)
    bomb = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><d>&a;</d>'
    with pytest.raises(FormatError, match="refused: it declares DTD entities"):
        parse_entsoe_a44(bomb)


# --------------------------------------------------------------------------- MQTT payloads

TASMOTA = {
    "Time": "2026-02-02T12:00:00",
    "ENERGY": {
        "TotalStartTime": "2025-01-01T00:00:00",
        "Total": 1234.5,
        "Yesterday": 3.2,
        "Today": 1.1,
        "Power": 230,
        "ApparentPower": 240,
        "Factor": 0.96,
        "Voltage": 231,
        "Current": 1.04,
    },
}


def test_tasmota_import() -> None:
    sample = parse_tasmota_sensor(json.dumps(TASMOTA).encode(), received_at=RECEIVED)
    assert sample.ts == datetime(2026, 2, 2, 11, 0, 5, tzinfo=UTC)  # received_at in UTC, not "Time"
    assert sample.import_kw == 0.23
    assert sample.export_kw == 0.0
    assert sample.import_kwh_total == 1234.5
    assert sample.export_kwh_total is None
    assert sample.voltage_v == 231.0
    assert sample.obis == {"1-0:16.7.0": 0.23, "1-0:1.8.0": 1234.5, "1-0:32.7.0": 231.0, "1-0:31.7.0": 1.04}


def test_tasmota_negative_power_is_export() -> None:
    payload = {"Time": "2026-02-02T12:00:00", "ENERGY": {"Total": 10, "Power": -1500, "ExportActive": 2.5}}
    sample = parse_tasmota_sensor(json.dumps(payload), received_at=RECEIVED)
    assert sample.import_kw == 0.0
    assert sample.export_kw == 1.5
    assert sample.export_kwh_total == 2.5


def test_tasmota_errors() -> None:
    with pytest.raises(FormatError, match="no ENERGY object"):
        parse_tasmota_sensor('{"Time": "2026-02-02T12:00:00", "AM2301": {}}', received_at=RECEIVED)
    with pytest.raises(FormatError, match=r"'ENERGY\.Power' must be a finite number"):
        parse_tasmota_sensor('{"ENERGY": {"Power": NaN}}', received_at=RECEIVED)
    with pytest.raises(FormatError, match="not valid JSON"):
        parse_tasmota_sensor(b'{"ENERGY": ', received_at=RECEIVED)
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_tasmota_sensor(json.dumps(TASMOTA), received_at=datetime(2026, 2, 2, 12, 0))


def test_json_reading_full_payload() -> None:
    payload = {
        "meter_id": "house-1",
        "ts": "2026-02-02T12:00:00+01:00",
        "consumption_kw": 1.25,
        "production_kw": 0,
        "voltage": 230.4,
    }
    reading = parse_json_reading(json.dumps(payload).encode(), received_at=RECEIVED)
    assert reading == {
        "meter_id": "house-1",
        "ts": datetime(2026, 2, 2, 11, 0, tzinfo=UTC),
        "consumption_kw": 1.25,
        "production_kw": 0.0,
        "voltage": 230.4,
    }
    assert reading["ts"].tzinfo == UTC
    assert parse_json_reading('{"ts": "2026-02-02T11:00:00Z"}', received_at=RECEIVED)["ts"] == reading["ts"]


def test_json_reading_defaults() -> None:
    reading = parse_json_reading('{"production_kw": 3.5}', received_at=RECEIVED)
    assert reading == {
        "meter_id": None,
        "ts": datetime(2026, 2, 2, 11, 0, 5, tzinfo=UTC),
        "consumption_kw": None,
        "production_kw": 3.5,
        "voltage": None,
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ('{"ts": "2026-02-02T12:00:00", "consumption_kw": 1}', "'ts'"),
        ('{"ts": "yesterday"}', "'ts'"),
        ('{"consumption_kw": NaN}', "'consumption_kw'"),
        ('{"production_kw": Infinity}', "'production_kw'"),
        ('{"voltage": "230"}', "'voltage'"),
        ('{"consumption_kw": true}', "'consumption_kw'"),
        ('{"meter_id": 7}', "'meter_id'"),
    ],
)
def test_json_reading_bad_fields_are_named(payload: str, field: str) -> None:
    with pytest.raises(FormatError, match=field) as info:
        parse_json_reading(payload, received_at=RECEIVED)
    assert info.value.details["field"] == field.strip("'")


@pytest.mark.parametrize("payload", ["{", "[1, 2]", b"\xff\xfe"])
def test_json_reading_malformed_json(payload: str | bytes) -> None:
    with pytest.raises(FormatError, match="json payload"):
        parse_json_reading(payload, received_at=RECEIVED)

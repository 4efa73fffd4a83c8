"""DSMR P1 telegrams (Dutch DSMR 4/5, Belgian Fluvius e-MUCS) via dsmr-parser.

Energy registers arrive in kWh, power in kW, voltage in V, current in A: the telegram's own units,
which are already the base units. 1-0:1.7.0 is import power, 1-0:2.7.0 export power (both >= 0).
The telegram timestamp 0-0:1.0.0 is local time (Europe/Amsterdam or Brussels, same offsets) with an
S (summer) / W (winter) suffix; the sample's `ts` is that instant in aware UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from luna_iems.timeseries.formats.errors import FormatError
from luna_iems.timeseries.formats.samples import MeterSample, meter_sample_from_obis

_CODE = re.compile(r"^(\d+-\d+:\d+\.\d+\.\d+)")
_VERSION = re.compile(r"^1-3:0\.2\.8\(([0-9]*)\)", re.MULTILINE)
_BELGIAN = re.compile(r"^0-0:96\.1\.4\(", re.MULTILINE)
_CRC = re.compile(r"!([0-9A-Fa-f]{4})")
_KILO = {"W": Decimal(1000), "Wh": Decimal(1000)}  # DSMR sends kW/kWh; guard anyway
_LINE_ERRORS = (ValueError, ArithmeticError, IndexError, TypeError)  # plus dsmr-parser's ParseError


def _specification(text: str) -> tuple[str, Any]:
    """(name, dsmr-parser specification) chosen from the version line or the Belgian marker."""
    from dsmr_parser import telegram_specifications as specs

    if _BELGIAN.search(text):
        return "BELGIUM_FLUVIUS", specs.BELGIUM_FLUVIUS
    version = _VERSION.search(text)
    if version is not None:
        if version.group(1).startswith("4"):
            return "V4", specs.V4
        return "V5", specs.V5  # 50 and any later 5x version
    if _CRC.search(text):
        return "V5", specs.V5  # no version line but a CRC: treat as DSMR 5
    return "V3", specs.V3  # DSMR 2.2/3: neither version line nor CRC


def _normalise(telegram: str | bytes) -> str:
    if isinstance(telegram, bytes):
        try:
            telegram = telegram.decode("ascii")
        except UnicodeDecodeError as exc:
            raise FormatError(
                f"DSMR telegram is not ASCII (byte {exc.start}); read the P1 port as 115200 8N1",
                details={"format": "dsmr"},
            ) from exc
    start = telegram.find("/")
    if start == -1:
        raise FormatError("not a DSMR telegram: no header line starting with '/'", details={"format": "dsmr"})
    # The CRC covers CRLF line endings: restore them if a transport dropped the CRs.
    return re.sub(r"\r*\n", "\r\n", telegram[start:])


def _crc_error(text: str) -> FormatError:
    from dsmr_parser.parsers import TelegramParser

    body = re.search(r"/.+!", text, re.DOTALL)
    said = _CRC.search(text)
    if body is None or said is None:
        return FormatError("DSMR telegram CRC mismatch", details={"format": "dsmr"})
    computed = f"{TelegramParser.crc16(body.group(0)):04X}"
    return FormatError(
        f"DSMR telegram CRC mismatch: telegram says {said.group(1).upper()}, computed {computed}",
        details={"format": "dsmr", "crc_telegram": said.group(1).upper(), "crc_computed": computed},
    )


def _describe(exc: Exception) -> str:
    """dsmr-parser passes printf-style arguments to its exceptions: render them."""
    if len(exc.args) > 1 and isinstance(exc.args[0], str):
        try:
            return exc.args[0] % exc.args[1:]
        except TypeError:
            pass
    return str(exc)


def _base_unit(value: Any, unit: Any) -> Decimal | None:
    """Numeric value in base units; None for text, timestamps, lists and booleans."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        return None
    number = Decimal(value) if not isinstance(value, float) else Decimal(str(value))
    if isinstance(unit, str) and unit in _KILO:
        number /= _KILO[unit]
    return number


def _decode_lines(text: str, spec: Any, errors: tuple[type[Exception], ...]) -> dict[str, Decimal]:
    """Every numeric line the specification knows, keyed by its OBIS code (all M-Bus channels)."""
    obis: dict[str, Decimal] = {}
    for item in spec["objects"]:
        for match in re.finditer(item["obis_reference"], text, re.MULTILINE | re.DOTALL):
            code = _CODE.match(match.group(0))
            if code is None or code.group(1) in obis:
                continue
            try:
                parsed = item["value_parser"].parse(match.group(0))
            except errors as exc:
                line = match.group(0).strip()
                raise FormatError(
                    f"invalid DSMR telegram line {line!r}: its value does not have the expected format",
                    details={"format": "dsmr", "line": line, "reason": _describe(exc)},
                ) from exc
            if isinstance(parsed, list):
                continue  # e.g. Belgian 13-month peak history
            value = _base_unit(getattr(parsed, "value", None), getattr(parsed, "unit", None))
            if value is not None:
                obis[code.group(1)] = value
    return obis


def _serial(text: str) -> str | None:
    """0-0:96.1.1 equipment identifier: hex-encoded ASCII per DSMR, decoded when printable."""
    found = re.search(r"^0-0:96\.1\.1\(([0-9A-Fa-f]*)\)", text, re.MULTILINE)
    if found is None or not found.group(1):
        return None
    raw = found.group(1)
    try:
        decoded = bytes.fromhex(raw).decode("ascii")
    except ValueError:
        return raw
    return decoded if decoded.isprintable() else raw


def parse_dsmr(telegram: str | bytes) -> MeterSample:
    """Decode one P1 telegram (from '/' to the '!CRC' line) into a MeterSample.

    The CRC is verified for DSMR 4+ and Fluvius telegrams; a mismatch raises FormatError naming
    both CRCs. import_kwh_total is 1-0:1.8.0 or, when absent, the sum of tariffs 1.8.1 + 1.8.2.
    """
    from dsmr_parser.exceptions import InvalidChecksumError, ParseError
    from dsmr_parser.parsers import TelegramParser

    text = _normalise(telegram)
    name, spec = _specification(text)
    parser = TelegramParser(spec, apply_checksum_validation=True)
    errors = (ParseError, *_LINE_ERRORS)
    try:
        if spec["checksum_support"]:
            parser.validate_checksum(text)  # first: a corrupt telegram is a CRC error, not a bad value
        obis = _decode_lines(text, spec, errors)  # names the offending line
        parsed = parser.parse(text, throw_ex=True)
    except InvalidChecksumError as exc:
        raise _crc_error(text) from exc
    except errors as exc:
        raise FormatError(
            f"invalid DSMR telegram ({name} specification): {_describe(exc)}",
            details={"format": "dsmr", "specification": name},
        ) from exc
    stamp = getattr(parsed, "P1_MESSAGE_TIMESTAMP", None)
    ts = getattr(stamp, "value", None)
    if not isinstance(ts, datetime) or ts.tzinfo is None:
        ts = None
    return meter_sample_from_obis(
        obis, ts=ts.astimezone(UTC) if ts is not None else None, meter_serial=_serial(text)
    )

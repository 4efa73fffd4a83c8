"""SML frames (German smart meters, IR head on the optical interface) via smllib.

Values are scaled (value * 10**scaler) and converted to base units by their DLMS unit code:
30 Wh -> kWh, 27 W -> kW, 35 V, 33 A, 44 Hz. 1-0:16.7.0 is total active power: + import,
- export. These frames carry no wall-clock time (only a seconds counter), so `ts` is None.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from luna_iems.timeseries.formats.errors import FormatError
from luna_iems.timeseries.formats.samples import MeterSample, meter_sample_from_obis

_START = b"\x1b\x1b\x1b\x1b\x01\x01\x01\x01"
_HEX = re.compile(rb"[0-9A-Fa-f\s]+")
_KILO_UNITS = frozenset({27, 30})  # W, Wh
_SERIAL_CODES = ("0-0:96.1.0", "1-0:96.1.0")
_DETAILS = {"format": "sml"}


def _to_bytes(frame: bytes | str) -> bytes:
    """Raw bytes as they are; hex text (str or ASCII bytes, whitespace allowed) turned into bytes."""
    if isinstance(frame, bytes) and not _HEX.fullmatch(frame):
        return frame
    text = frame.encode("ascii", "replace") if isinstance(frame, str) else frame
    if not _HEX.fullmatch(text):
        raise FormatError("not an SML frame: text is neither raw bytes nor hex digits", details=_DETAILS)
    digits = b"".join(text.split())
    if len(digits) % 2:
        raise FormatError(
            f"SML hex text has an odd number of digits ({len(digits)}): the frame is cut",
            details=_DETAILS,
        )
    return bytes.fromhex(digits.decode("ascii"))


def _code(entry: Any) -> str:
    obis = entry.obis
    return f"{int(obis[0:2], 16)}-{int(obis[2:4], 16)}:{obis.obis_short}"


def _base_unit(entry: Any) -> Decimal | None:
    value = entry.value
    if isinstance(value, bool) or not isinstance(value, int):
        return None  # octet strings, times
    number = Decimal(value).scaleb(entry.scaler or 0)
    return number.scaleb(-3) if entry.unit in _KILO_UNITS else number


def _messages(frame: Any) -> list[Any] | None:
    try:
        return list(frame.parse_frame())
    except Exception:  # smllib raises bare ValueError/IndexError/its own errors on odd frames
        return None


def _server_id(messages: list[Any] | None) -> str | None:
    from smllib.sml.response_get_list import SmlGetListResponse
    from smllib.sml.response_open_close import SmlOpenResponse

    for message in messages or []:
        body = message.message_body
        if isinstance(body, SmlOpenResponse | SmlGetListResponse) and body.server_id:
            return str(body.server_id)
    return None


def _entries(frame: Any) -> list[Any]:
    """List entries: get_obis() first, the full parse_frame() when that fails."""
    from smllib.sml.response_get_list import SmlGetListResponse

    try:
        return list(frame.get_obis())
    except Exception as exc:  # fall back to the full parse below
        failure: Exception = exc
    messages = _messages(frame)
    if messages is None:
        raise FormatError(f"SML frame content could not be decoded: {failure}", details=_DETAILS)
    return [
        entry
        for message in messages
        if isinstance(message.message_body, SmlGetListResponse)
        for entry in message.message_body.val_list
    ]


def parse_sml(frame: bytes | str) -> MeterSample:
    """Decode one SML frame (raw bytes or hex text) into a MeterSample with ts None.

    meter_serial: the 0-0:96.1.0 / 1-0:96.1.0 entry, else the server id (hex as sent).
    """
    from smllib.errors import CrcError
    from smllib.reader import SmlStreamReader

    data = _to_bytes(frame)
    if _START not in data:
        raise FormatError(
            "not an SML frame: missing escape sequence 1b1b1b1b 01010101 (start of frame)",
            details=_DETAILS,
        )
    reader = SmlStreamReader()
    reader.add(data)
    try:
        sml_frame = reader.get_frame()
    except CrcError as exc:
        raise FormatError(
            f"SML frame CRC mismatch: frame says {exc.crc_msg:04x}, computed {exc.crc_calc:04x}",
            details={**_DETAILS, "crc_frame": f"{exc.crc_msg:04x}", "crc_computed": f"{exc.crc_calc:04x}"},
        ) from exc
    if sml_frame is None:
        raise FormatError(
            f"incomplete SML frame: no end escape sequence 1b1b1b1b 1a after {len(data)} bytes",
            details=_DETAILS,
        )
    entries = _entries(sml_frame)
    obis: dict[str, Decimal] = {}
    serial: str | None = None
    for entry in entries:
        code = _code(entry)
        if code in _SERIAL_CODES and isinstance(entry.value, str) and serial is None:
            serial = entry.value
        value = _base_unit(entry)
        if value is not None:
            obis.setdefault(code, value)
    if not obis:
        raise FormatError("SML frame contains no numeric OBIS values", details=_DETAILS)
    return meter_sample_from_obis(obis, ts=None, meter_serial=serial or _server_id(_messages(sml_frame)))

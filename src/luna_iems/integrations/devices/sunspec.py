"""SunSpec over Modbus: discovery of the model chain, the points Luna reads, scale factors and the
"not implemented" values. Pure decoding plus one async walk over a register reader; no I/O of its own.

A SunSpec device answers "SunS" (0x5375 0x6E53) at a base address (40000, else 0 or 50000), followed by
a chain of models, each `ID, L, <L registers>`, ending with ID 0xFFFF. Integer models carry a value and
a scale factor point (`sunssf`, int16 in -10..10): value x 10^SF. A point holding its type's "not
implemented" pattern (e.g. int16 0x8000, uint16 0xFFFF, acc32 0) has no value; neither does a value
whose scale factor is not implemented.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

SUNS = (0x5375, 0x6E53)
BASE_ADDRESSES = (40000, 0, 50000)
END_MODEL = 0xFFFF
MAX_MODELS = 64  # a chain longer than this is a misread, not a device

PointType = Literal[
    "int16", "uint16", "acc16", "enum16", "bitfield16", "sunssf", "int32", "uint32", "acc32", "float32"
]
_WIDTH: dict[str, int] = {"int32": 2, "uint32": 2, "acc32": 2, "float32": 2}
# The register pattern meaning "not implemented" for each type (SunSpec Information Model Reference).
_NOT_IMPLEMENTED: dict[str, int | None] = {
    "int16": 0x8000,
    "uint16": 0xFFFF,
    "acc16": 0x0000,
    "enum16": 0xFFFF,
    "bitfield16": 0xFFFF,
    "sunssf": 0x8000,
    "int32": 0x80000000,
    "uint32": 0xFFFFFFFF,
    "acc32": 0x00000000,
    "float32": None,  # NaN
}


@dataclass(frozen=True)
class Point:
    """A point of a model: offset after the `ID, L` header, type, and its scale factor point."""

    offset: int
    type: PointType
    sf: str | None = None


# The points Luna reads, per model (offsets from the SunSpec models 1, 101-103, 124, 201-204, 802).
_INVERTER = {
    "A": Point(0, "uint16", "A_SF"),
    "A_SF": Point(4, "sunssf"),
    "PhVphA": Point(8, "uint16", "V_SF"),
    "V_SF": Point(11, "sunssf"),
    "W": Point(12, "int16", "W_SF"),
    "W_SF": Point(13, "sunssf"),
    "Hz": Point(14, "uint16", "Hz_SF"),
    "Hz_SF": Point(15, "sunssf"),
    "WH": Point(22, "acc32", "WH_SF"),
    "WH_SF": Point(24, "sunssf"),
    "St": Point(36, "enum16"),
}
_METER = {
    "A": Point(0, "int16", "A_SF"),
    "A_SF": Point(4, "sunssf"),
    "PhVphA": Point(6, "int16", "V_SF"),
    "V_SF": Point(13, "sunssf"),
    "Hz": Point(14, "int16", "Hz_SF"),
    "Hz_SF": Point(15, "sunssf"),
    "W": Point(16, "int16", "W_SF"),
    "W_SF": Point(20, "sunssf"),
    "TotWhExp": Point(36, "acc32", "TotWh_SF"),
    "TotWhImp": Point(44, "acc32", "TotWh_SF"),
    "TotWh_SF": Point(52, "sunssf"),
}
MODELS: dict[int, dict[str, Point]] = {
    101: _INVERTER,
    102: _INVERTER,
    103: _INVERTER,
    201: _METER,
    202: _METER,
    203: _METER,
    204: _METER,
    124: {
        "WChaMax": Point(0, "uint16", "WChaMax_SF"),
        "StorCtl_Mod": Point(3, "bitfield16"),
        "ChaState": Point(6, "uint16", "ChaState_SF"),
        "ChaSt": Point(9, "enum16"),
        "OutWRte": Point(10, "int16", "InOutWRte_SF"),
        "InWRte": Point(11, "int16", "InOutWRte_SF"),
        "WChaMax_SF": Point(16, "sunssf"),
        "ChaState_SF": Point(20, "sunssf"),
        "InOutWRte_SF": Point(23, "sunssf"),
    },
    802: {
        "WHRtg": Point(1, "uint16", "WHRtg_SF"),
        "SoC": Point(9, "uint16", "SoC_SF"),
        "SoH": Point(11, "uint16", "SoH_SF"),
        "ChaSt": Point(14, "enum16"),
        "V": Point(32, "uint16", "V_SF"),
        "W": Point(45, "int16", "W_SF"),
        "WHRtg_SF": Point(51, "sunssf"),
        "SoC_SF": Point(54, "sunssf"),
        "SoH_SF": Point(56, "sunssf"),
        "V_SF": Point(57, "sunssf"),
        "W_SF": Point(61, "sunssf"),
    },
}
# Model lengths the test server and the benchmark lay out (what real devices announce).
MODEL_LENGTHS = {1: 66, 101: 50, 102: 50, 103: 50, 201: 105, 202: 105, 203: 105, 204: 105, 124: 24, 802: 62}


class SunSpecError(Exception):
    """The device does not speak SunSpec where expected, or its model chain is malformed."""


@dataclass(frozen=True)
class ModelBlock:
    """Where a model's body (after `ID, L`) starts and how many registers it has."""

    model_id: int
    address: int
    length: int


RegisterReader = Callable[[int, int], Awaitable[Sequence[int]]]  # (address, count) -> registers


async def discover(
    read: RegisterReader, *, base_addresses: Sequence[int] = BASE_ADDRESSES
) -> list[ModelBlock]:
    """Find "SunS" at the first base address that has it and walk the model chain to its end marker.

    Raises SunSpecError when no base address answers "SunS" or the chain is malformed; the reader's
    own errors (connection, timeout, Modbus exception) propagate unchanged.
    """
    for base in base_addresses:
        try:
            marker = await read(base, 2)
        except ModbusExceptionError:
            continue  # illegal address: try the next base
        if tuple(marker) == SUNS:
            return await _walk(read, base + 2)
    raise SunSpecError(f"no SunSpec marker 'SunS' at {', '.join(str(b) for b in base_addresses)}")


async def _walk(read: RegisterReader, address: int) -> list[ModelBlock]:
    blocks: list[ModelBlock] = []
    for _ in range(MAX_MODELS):
        model_id, length = await read(address, 2)
        if model_id == END_MODEL:
            return blocks
        if address + 2 + length > 0xFFFF:
            raise SunSpecError(f"model {model_id} at {address} runs past the register space (L={length})")
        blocks.append(ModelBlock(model_id=model_id, address=address + 2, length=length))
        address += 2 + length
    raise SunSpecError(f"no end marker after {MAX_MODELS} models")


class ModbusExceptionError(Exception):
    """The device answered a request with a Modbus exception (e.g. illegal data address)."""


def decode_raw(registers: Sequence[int], offset: int, point_type: PointType) -> float | int | None:
    """The raw value of a point at `offset` in a model body, or None when it is not implemented."""
    width = _WIDTH.get(point_type, 1)
    if offset + width > len(registers):
        return None
    words = registers[offset : offset + width]
    if point_type == "float32":
        value = struct.unpack(">f", struct.pack(">HH", *words))[0]
        return None if math.isnan(value) else float(value)
    raw = words[0] if width == 1 else (words[0] << 16) | words[1]
    if raw == _NOT_IMPLEMENTED[point_type]:
        return None
    if point_type in {"int16", "sunssf"}:
        return raw - 0x10000 if raw >= 0x8000 else raw
    if point_type == "int32":
        return raw - 0x1_0000_0000 if raw >= 0x8000_0000 else raw
    return raw


def read_point(model_id: int, body: Sequence[int], name: str) -> float | None:
    """A point's value with its scale factor applied, or None (unknown point, not implemented, or a
    scale factor outside SunSpec's -10..10)."""
    point = MODELS.get(model_id, {}).get(name)
    if point is None:
        return None
    raw = decode_raw(body, point.offset, point.type)
    if raw is None:
        return None
    if point.sf is None:
        return float(raw)
    sf = scale_factor(model_id, body, point.sf)
    if sf is None:
        return None
    # Dividing by 10^-SF keeps decimal values exact in repr (2301 x 10^-1 = 230.1, not 230.10000000000002).
    return float(raw) / 10.0**-sf if sf < 0 else float(raw) * 10.0**sf


def scale_factor(model_id: int, body: Sequence[int], name: str) -> int | None:
    point = MODELS[model_id][name]
    sf = decode_raw(body, point.offset, "sunssf")
    return int(sf) if sf is not None and -10 <= sf <= 10 else None


def encode_int16(value: int) -> int:
    """A signed value as the register word (two's complement); raises ValueError outside int16."""
    if not -0x8000 < value <= 0x7FFF:  # -0x8000 is the "not implemented" pattern
        raise ValueError(f"{value} does not fit a SunSpec int16 point")
    return value & 0xFFFF

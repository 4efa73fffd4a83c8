"""SunSpec decoding without a network: "not implemented" values, scale factors, the model chain."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from luna_iems.integrations.devices import sunspec
from luna_iems.integrations.devices.sunspec import ModbusExceptionError, SunSpecError, decode_raw, read_point
from tests.integrations.devices.modbus_server import model_block, sunspec_map


@pytest.mark.parametrize(
    ("point_type", "words"),
    [
        ("int16", [0x8000]),
        ("uint16", [0xFFFF]),
        ("acc16", [0x0000]),
        ("enum16", [0xFFFF]),
        ("bitfield16", [0xFFFF]),
        ("sunssf", [0x8000]),
        ("int32", [0x8000, 0x0000]),
        ("uint32", [0xFFFF, 0xFFFF]),
        ("acc32", [0x0000, 0x0000]),
        ("float32", [0x7FC0, 0x0000]),  # NaN
    ],
)
def test_not_implemented_values_are_missing(point_type: sunspec.PointType, words: list[int]) -> None:
    assert decode_raw(words, 0, point_type) is None


def test_signed_and_wide_values_decode() -> None:
    assert decode_raw([0xFFFE], 0, "int16") == -2
    assert decode_raw([0xFFFE], 0, "sunssf") == -2
    assert decode_raw([0x0001, 0x86A0], 0, "acc32") == 100_000
    assert decode_raw([0xFFFF, 0xFFFE], 0, "int32") == -2
    assert decode_raw([0x4148, 0x0000], 0, "float32") == 12.5


def test_scale_factors_apply_and_a_missing_one_hides_the_value() -> None:
    body = model_block(203, {"W": 0xFF38, "W_SF": 1, "TotWhImp": 123_456, "TotWh_SF": 0xFFFD})[2:]
    assert read_point(203, body, "W") == -2000.0  # -200 x 10^1
    assert read_point(203, body, "TotWhImp") == 123.456
    no_sf = model_block(203, {"W": 1000})[2:]  # W_SF left at 0x8000: not implemented
    assert read_point(203, no_sf, "W") is None
    out_of_range = model_block(203, {"W": 1000, "W_SF": 11})[2:]  # SunSpec allows -10..10
    assert read_point(203, out_of_range, "W") is None


def _reader(registers: dict[int, int]) -> sunspec.RegisterReader:
    async def read(address: int, count: int) -> Sequence[int]:
        if address not in registers:
            raise ModbusExceptionError(f"illegal address {address}")
        return [registers[a] for a in range(address, address + count)]

    return read


def _at(base: int, words: list[int]) -> dict[int, int]:
    return dict(enumerate(words, start=base))


def test_discovery_walks_the_chain_at_the_first_base_that_answers() -> None:
    words = sunspec_map([(103, {}), (802, {})])
    blocks = asyncio.run(sunspec.discover(_reader(_at(0, words))))  # nothing at 40000: found at 0
    assert [(b.model_id, b.length) for b in blocks] == [(1, 66), (103, 50), (802, 62)]
    assert blocks[1].address == 2 + 68 + 2  # after "SunS", the common model and 103's header


def test_discovery_without_marker_or_end_fails_clearly() -> None:
    with pytest.raises(SunSpecError, match="no SunSpec marker"):
        asyncio.run(sunspec.discover(_reader(_at(40000, [1, 2, 3, 4]))))
    endless = [*sunspec.SUNS] + [999, 0] * (sunspec.MAX_MODELS + 1)
    with pytest.raises(SunSpecError, match="no end marker"):
        asyncio.run(sunspec.discover(_reader(_at(40000, endless))))


def test_int16_setpoint_encoding_refuses_the_not_implemented_pattern() -> None:
    assert sunspec.encode_int16(-4000) == 61536
    with pytest.raises(ValueError, match="int16"):
        sunspec.encode_int16(-0x8000)


def test_next_slot_keeps_the_grid_skips_overruns_and_backs_off() -> None:
    from luna_iems.integrations.devices.poller import next_slot

    assert next_slot(100.0, now=100.3, interval=5, failures=0, backoff_max=300) == (105.0, 0)
    assert next_slot(100.0, now=111.0, interval=5, failures=0, backoff_max=300) == (
        115.0,
        2,
    )  # 105, 110 missed
    assert next_slot(100.0, now=100.3, interval=5, failures=1, backoff_max=300) == (105.0, 0)
    assert next_slot(100.0, now=100.3, interval=5, failures=3, backoff_max=300) == (120.0, 0)  # 20 s later
    assert next_slot(100.0, now=100.3, interval=5, failures=5000, backoff_max=300) == (400.0, 0)  # capped
    assert next_slot(100.0, now=100.3, interval=5, failures=2, backoff_max=1) == (
        105.0,
        0,
    )  # never < interval

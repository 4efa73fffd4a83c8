"""pymodbus' own Modbus TCP server on a loopback port, with a SunSpec register map built here.

Not a test double: the real pymodbus server (SimDevice datastore) answers the real client. The map is
laid out as a SunSpec device does: "SunS" at 40000, then models `ID, L, body`, then 0xFFFF.
Point values are raw register values (before scale factors), named as in `sunspec.MODELS`.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from luna_iems.integrations.devices.sunspec import MODEL_LENGTHS, MODELS, SUNS

SUNSPEC_BASE = 40000
_WIDE = {"int32", "uint32", "acc32", "float32"}


def _common_model() -> list[int]:
    def text(value: str, registers: int) -> list[int]:
        raw = value.encode().ljust(registers * 2, b"\0")
        return list(struct.unpack(f">{registers}H", raw))

    body = text("Luna Test", 16) + text("SunSpec Sim", 16) + text("", 8) + text("1.0", 8)
    body += [*text("SN-0001", 16), 1, 0x8000]
    return [1, MODEL_LENGTHS[1], *body]


def model_block(model_id: int, points: Mapping[str, int]) -> list[int]:
    """`ID, L, body` with the given raw point values; unset registers hold 0x8000 (int16 "not
    implemented"), so a point the device does not fill reads as missing for signed types."""
    length = MODEL_LENGTHS[model_id]
    body = [0x8000] * length
    for name, raw in points.items():
        point = MODELS[model_id][name]
        if point.type in _WIDE:
            body[point.offset : point.offset + 2] = [(raw >> 16) & 0xFFFF, raw & 0xFFFF]
        else:
            body[point.offset] = raw & 0xFFFF
    return [model_id, length, *body]


def sunspec_map(models: list[tuple[int, Mapping[str, int]]]) -> list[int]:
    """Registers from 40000: "SunS", the common model, the given models, the end marker."""
    words = [*SUNS, *_common_model()]
    for model_id, points in models:
        words += model_block(model_id, points)
    return [*words, 0xFFFF, 0]


def float_registers(values: Mapping[int, float], *, size: int = 80) -> list[int]:
    """Input registers from 0 of a float32 (high word first) register-map meter such as the SDM630."""
    words = [0] * size
    for address, value in values.items():
        words[address : address + 2] = list(struct.unpack(">HH", struct.pack(">f", value)))
    return words


class ModbusTestServer:
    """A pymodbus TCP server in its own thread and event loop; `port` is chosen by the OS.

    `blocks` (start address, registers) answer every function; with `input_blocks`, `blocks` are the
    holding registers only and `input_blocks` the input registers (a request with the wrong function
    code gets "illegal address").
    """

    def __init__(
        self, blocks: list[tuple[int, list[int]]], input_blocks: list[tuple[int, list[int]]] | None = None
    ) -> None:
        self._blocks = blocks
        self._input_blocks = input_blocks
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modbus-test-server", daemon=True)
        self._server: ModbusTcpServer | None = None
        self.port = 0

    def start(self) -> ModbusTestServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        def data(blocks: list[tuple[int, list[int]]]) -> list[SimData]:
            return [SimData(address=a, values=w, datatype=DataType.REGISTERS) for a, w in blocks]

        device = SimDevice(id=0, simdata=data(self._blocks))
        if self._input_blocks is not None:
            bits = [SimData(address=0, values=False, datatype=DataType.BITS)]
            device = SimDevice(id=0, simdata=(bits, list(bits), data(self._blocks), data(self._input_blocks)))
        self._server = ModbusTcpServer(device, address=("127.0.0.1", 0))
        await self._server.serve_forever(background=True)
        transport: Any = self._server.transport
        self.port = int(transport.sockets[0].getsockname()[1])

    def registers(self, address: int, count: int) -> list[int]:
        """Holding registers as the server's datastore holds them now (after any writes)."""
        assert self._server is not None
        server = self._server
        future = asyncio.run_coroutine_threadsafe(server.async_getValues(1, 3, address, count), self._loop)
        return [int(v) for v in future.result(timeout=10)]

    def stop(self) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@contextmanager
def modbus_server(
    blocks: list[tuple[int, list[int]]], input_blocks: list[tuple[int, list[int]]] | None = None
) -> Iterator[ModbusTestServer]:
    server = ModbusTestServer(blocks, input_blocks).start()
    try:
        yield server
    finally:
        server.stop()

"""One Modbus TCP connection to one device (pymodbus' asyncio client), with Luna's error types.

pymodbus' own reconnect loop and retries are switched off: the poller decides when to reconnect
(next poll, with backoff for a dead device) and a timeout is the poller's, per device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse

from luna_iems.integrations.devices.sunspec import ModbusExceptionError, ModelBlock

MAX_READ = 125  # registers per read request (Modbus limit)
MAX_WRITE = 123


class DeviceUnreachableError(Exception):
    """No TCP connection, or the connection broke during a request."""


class ModbusConnection:
    def __init__(self, *, host: str, port: int, unit_id: int, timeout_s: float) -> None:
        self.host, self.port, self.unit_id = host, port, unit_id
        self._client = AsyncModbusTcpClient(
            host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0, reconnect_delay_max=0
        )
        # The SunSpec model chain found on this connection (found again after a reconnect: the
        # device may have been replaced or updated).
        self.models: list[ModelBlock] | None = None

    async def connect(self) -> None:
        if self._client.connected:
            return
        if not await self._client.connect():
            raise DeviceUnreachableError(f"cannot connect to {self.host}:{self.port}")

    async def read(
        self, address: int, count: int, *, function: Literal["holding", "input"] = "holding"
    ) -> list[int]:
        """`count` registers from `address` (split into requests of 125); raises
        ModbusExceptionError for a Modbus exception answer, DeviceUnreachableError otherwise."""
        await self.connect()
        registers: list[int] = []
        while count > 0:
            n = min(count, MAX_READ)
            try:
                if function == "input":
                    response = await self._client.read_input_registers(
                        address, count=n, device_id=self.unit_id
                    )
                else:
                    response = await self._client.read_holding_registers(
                        address, count=n, device_id=self.unit_id
                    )
            except ModbusException as exc:
                raise DeviceUnreachableError(f"{self.host}:{self.port}: {exc}") from exc
            if isinstance(response, ExceptionResponse) or response.isError():
                code = getattr(response, "exception_code", "?")
                raise ModbusExceptionError(
                    f"{self.host}:{self.port} unit {self.unit_id}: Modbus exception {code} reading "
                    f"{n} register(s) at {address}"
                )
            registers += response.registers
            address, count = address + n, count - n
        return registers

    async def write(self, address: int, values: Sequence[int]) -> None:
        """Write holding registers (function 16); raises like `read`."""
        await self.connect()
        for start in range(0, len(values), MAX_WRITE):
            chunk = list(values[start : start + MAX_WRITE])
            try:
                response = await self._client.write_registers(address + start, chunk, device_id=self.unit_id)
            except ModbusException as exc:
                raise DeviceUnreachableError(f"{self.host}:{self.port}: {exc}") from exc
            if isinstance(response, ExceptionResponse) or response.isError():
                code = getattr(response, "exception_code", "?")
                raise ModbusExceptionError(
                    f"{self.host}:{self.port} unit {self.unit_id}: Modbus exception {code} writing "
                    f"{len(chunk)} register(s) at {address + start}"
                )

    def close(self) -> None:
        self.models = None
        self._client.close()

"""HTTP routes of integrations/devices: the configured field devices and their polling status."""

from __future__ import annotations

from fastapi import APIRouter, Request

from luna_iems.deps import AnalystKey, ContainerDep
from luna_iems.errors import AUTHENTICATED_ERRORS
from luna_iems.integrations.devices import service
from luna_iems.integrations.devices.poller import DevicePoller
from luna_iems.integrations.devices.schemas import DeviceList

router = APIRouter(prefix="/devices", tags=["integrations"], responses=AUTHENTICATED_ERRORS)


def _poller(request: Request) -> DevicePoller | None:
    poller: DevicePoller | None = getattr(request.app.state, "device_poller", None)
    return poller


@router.get("", response_model=DeviceList)
def list_devices(request: Request, container: ContainerDep, _: AnalystKey) -> DeviceList:
    """Modbus devices from DEVICES_CONFIG_PATH with their status: last success, last error,
    consecutive failures, latency and the last values read (analyst role or higher)."""
    return service.list_devices(
        config_path=str(container.settings.devices_config_path), poller=_poller(request)
    )

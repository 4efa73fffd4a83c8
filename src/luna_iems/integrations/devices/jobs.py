"""Background work of integrations/devices: the poller starts with the service when a device file
exists (DEVICES_CONFIG_PATH) and stops with it. It is not an APScheduler job (see poller.py)."""

from __future__ import annotations

import logging

from luna_iems.integrations.devices.config import load_devices
from luna_iems.integrations.devices.deps import DevicesDeps
from luna_iems.integrations.devices.poller import DevicePoller

log = logging.getLogger("luna_iems.devices")


def start(deps: DevicesDeps) -> DevicePoller | None:
    """Load the device file and start polling; None when the file does not exist or lists no device.

    Raises DeviceConfigError (naming the file and field) for an invalid file or template: a device
    file that says something must not be silently ignored.
    """
    settings = deps.settings
    devices = load_devices(settings.devices_config_path, templates_dir=settings.devices_templates_dir)
    if not devices:
        log.info("no field devices to poll", extra={"config": str(settings.devices_config_path)})
        return None
    poller = DevicePoller(deps, devices)
    poller.start()
    log.info("polling field devices", extra={"devices": [d.id for d in devices]})
    return poller


def stop(poller: DevicePoller | None) -> None:
    if poller is not None:
        poller.stop()

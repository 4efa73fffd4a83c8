"""Load device templates (shipped in `templates/`, plus an optional directory of one's own) and the
site's device file (DEVICES_CONFIG_PATH). Errors name the file and the field."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from luna_iems.errors import InvalidInputError
from luna_iems.integrations.devices.schemas import DeviceConfig, DevicesFile, Template

_TEMPLATE = TypeAdapter[Template](Template)


class DeviceConfigError(InvalidInputError):
    """The device file or a template is not valid; the message names the file and the field."""


@dataclass(frozen=True)
class Device:
    """A configured device with its template resolved."""

    config: DeviceConfig
    template: Template

    @property
    def id(self) -> str:
        return self.config.id


def _load_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DeviceConfigError(f"{origin}: not valid YAML ({exc})") from exc


def _explain(exc: ValidationError, origin: str) -> DeviceConfigError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    return DeviceConfigError(
        f"{origin}: {where}: {first['msg']}",
        details={"file": origin, "field": where, "errors": exc.error_count()},
    )


def parse_template(text: str, origin: str) -> Template:
    try:
        return _TEMPLATE.validate_python(_load_yaml(text, origin))
    except ValidationError as exc:
        raise _explain(exc, origin) from exc


def load_templates(extra_dir: Path | None = None) -> dict[str, Template]:
    """The shipped templates by name; those in `extra_dir` (*.yml) are added and win on equal names."""
    templates: dict[str, Template] = {}
    shipped = resources.files("luna_iems.integrations.devices") / "templates"
    for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yml"):
            template = parse_template(entry.read_text(encoding="utf-8"), f"templates/{entry.name}")
            templates[template.name] = template
    if extra_dir is not None:
        for path in sorted(extra_dir.glob("*.yml")):
            template = parse_template(path.read_text(encoding="utf-8"), str(path))
            templates[template.name] = template
    return templates


def parse_devices(text: str, *, origin: str, templates: dict[str, Template]) -> list[Device]:
    """The enabled devices of a device file, each with its template; raises DeviceConfigError."""
    document = _load_yaml(text, origin)
    try:
        parsed = DevicesFile.model_validate(document or {})
    except ValidationError as exc:
        raise _explain(exc, origin) from exc
    devices = []
    for config in parsed.devices:
        template = templates.get(config.template)
        if template is None:
            raise DeviceConfigError(
                f"{origin}: device {config.id!r}: unknown template {config.template!r}; "
                f"known: {', '.join(sorted(templates))}",
                details={"file": origin, "field": "template"},
            )
        if config.battery_id and "soc_pct" not in template.values:
            raise DeviceConfigError(
                f"{origin}: device {config.id!r}: battery_id is set but template {template.name!r} reads no "
                "soc_pct",
                details={"file": origin, "field": "battery_id"},
            )
        if config.meter_id and "power_w" not in template.values:
            raise DeviceConfigError(
                f"{origin}: device {config.id!r}: meter_id is set but template {template.name!r} reads no "
                "power_w",
                details={"file": origin, "field": "meter_id"},
            )
        if config.enabled:
            devices.append(Device(config=config, template=template))
    return devices


def load_devices(path: Path, *, templates_dir: Path | None = None) -> list[Device] | None:
    """The devices of the file at `path`, or None when the file does not exist (nothing to poll)."""
    if not path.is_file():
        return None
    return parse_devices(
        path.read_text(encoding="utf-8"), origin=str(path), templates=load_templates(templates_dir)
    )

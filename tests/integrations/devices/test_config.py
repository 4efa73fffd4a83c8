"""Device templates and the site's device file: what loads, and errors that name file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from luna_iems.integrations.devices.config import (
    DeviceConfigError,
    load_devices,
    load_templates,
    parse_devices,
    parse_template,
)
from luna_iems.integrations.devices.jobs import start

REPO = Path(__file__).resolve().parents[3]


def test_shipped_templates_load() -> None:
    templates = load_templates()
    assert sorted(templates) == ["eastron-sdm630", "sunspec-battery", "sunspec-inverter", "sunspec-meter"]
    assert templates["sunspec-battery"].setpoint == "storage_124"
    assert {t.kind for t in templates.values()} == {"meter", "inverter", "battery"}


def test_the_example_device_file_is_valid() -> None:
    devices = load_devices(REPO / "config" / "devices.example.yml")
    assert devices is not None
    assert [d.id for d in devices] == ["grid", "pv-roof", "hall-battery"]  # workshop is disabled
    assert not any(d.config.write for d in devices)


def test_absent_file_means_nothing_to_poll(tmp_path: Path) -> None:
    assert load_devices(tmp_path / "devices.yml") is None


def test_own_templates_add_to_the_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "mine.yml").write_text(
        "name: my-meter\nkind: meter\nprotocol: registers\nvalues:\n  power_w: {address: 10, type: int32}\n"
    )
    templates = load_templates(tmp_path)
    assert "my-meter" in templates and "sunspec-meter" in templates


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("devices: [{id: a, template: nope, host: h, meter_id: m}]", "unknown template 'nope'"),
        ("devices: [{id: a, template: sunspec-meter, host: h}]", "set meter_id or battery_id"),
        (
            "devices: [{id: a, template: sunspec-battery, host: h, battery_id: b, write: true}]",
            "write: true needs max_setpoint_kw",
        ),
        ("devices: [{id: a, template: sunspec-meter, host: h, meter_id: m, wirte: true}]", "devices.0.wirte"),
        ("devices: [{id: a, template: sunspec-meter, host: h, battery_id: b}]", "reads no soc_pct"),
        (
            "devices: [{id: a, template: sunspec-meter, host: h, meter_id: m, poll_interval_s: 0.1}]",
            "devices.0.poll_interval_s",
        ),
        (
            "devices: [{id: a, template: sunspec-meter, host: h, meter_id: m},"
            " {id: a, template: sunspec-meter, host: h, meter_id: n}]",
            "appears twice",
        ),
        ("devices: [oops", "not valid YAML"),
    ],
)
def test_invalid_device_files_name_the_field(text: str, message: str) -> None:
    with pytest.raises(DeviceConfigError, match=message) as caught:
        parse_devices(text, origin="site.yml", templates=load_templates())
    assert str(caught.value).startswith("site.yml")


def test_invalid_template_names_the_point() -> None:
    text = "name: x\nkind: meter\nprotocol: sunspec\nvalues:\n  power_w: ['203.Watts']\n"
    with pytest.raises(DeviceConfigError, match=r"unknown SunSpec point '203.Watts'"):
        parse_template(text, "x.yml")


def test_service_start_refuses_an_invalid_file(tmp_path: Path) -> None:
    from luna_iems.integrations.devices.deps import DevicesDeps
    from luna_iems.timeseries.deps import TimeseriesDeps
    from tests.conftest import make_settings

    path = tmp_path / "devices.yml"
    path.write_text("devices: [{id: a, template: sunspec-meter, host: h}]")
    settings = make_settings(tmp_path, devices_config_path=path)
    deps = DevicesDeps(settings=settings, timeseries=TimeseriesDeps(session_factory=None, settings=settings))  # type: ignore[arg-type]
    with pytest.raises(DeviceConfigError, match="set meter_id or battery_id"):
        start(deps)

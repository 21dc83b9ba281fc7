"""Scenario files: the shipped examples load, and wrong values name the key, value and form."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim import ScenarioError, Simulator, load_scenario
from firmware_sim.fault_kinds import KINDS
from firmware_sim.scenario import SerialTransport, parse_duration

from .helpers import scenario

SHIPPED = Path(__file__).parents[2] / "firmware-sim" / "scenarios"


@pytest.mark.parametrize("name", ["city", "faults", "serial", "clean"])
def test_shipped_scenarios_load_and_build(name: str) -> None:
    s = load_scenario(SHIPPED / f"{name}.yaml")
    assert Simulator(s).fleet


def test_city_is_the_demo_city() -> None:
    s = load_scenario(SHIPPED / "city.yaml")
    assert len(s.districts) >= 3
    assert 150 <= s.device_count <= 250
    assert s.transport.kind == "mqtt" and s.transport.qos == 1


def test_faults_scenario_has_every_fault_type() -> None:
    s = load_scenario(SHIPPED / "faults.yaml")
    assert {f.type for f in s.faults} == set(KINDS)


def test_serial_scenario_uses_every_codec() -> None:
    s = load_scenario(SHIPPED / "serial.yaml")
    codecs = {
        (g.transport or s.transport).codec
        for d in s.districts
        for g in d.devices.values()
        if isinstance(g.transport or s.transport, SerialTransport)
    }
    assert codecs == {"pms5003", "sds011", "traffic_line"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), (12, 12)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("patch", "key", "shown"),
    [
        ({"seed": "abc"}, "seed", "'abc'"),
        ({"transport": {"kind": "mqtt", "qos": 2}}, "transport.qos", "2"),
        ({"transport": {"kind": "serial", "codec": "nmea"}}, "transport.codec", "'nmea'"),
        ({"clock": {"timezone": "Mars/Olympus"}}, "clock.timezone", "'Mars/Olympus'"),
        ({"faults": [{"type": "melt", "sensor": "x", "duration": 1}]}, "faults.0.type", "'melt'"),
        (
            {"faults": [{"type": "spike", "sensor": "x", "duration": "soon"}]},
            "faults.0.duration",
            "'soon'",
        ),
    ],
)
def test_wrong_values_name_key_value_and_form(patch: dict, key: str, shown: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenario(**patch)
    assert err.value.key == key
    assert key in str(err.value) and shown in str(err.value)


def test_wrong_latitude_names_the_district_key() -> None:
    with pytest.raises(ScenarioError, match=r"districts\.0\.latitude = 123"):
        from firmware_sim.scenario import parse_scenario

        parse_scenario(
            {
                "name": "x",
                "districts": [{"name": "a", "latitude": 123, "longitude": 0, "devices": {}}],
            }
        )


def test_codec_must_fit_the_sensor_type() -> None:
    with pytest.raises(ScenarioError, match="codec 'pms5003' carries air_quality"):
        scenario(transport={"kind": "serial", "codec": "pms5003"})


def test_fault_on_unknown_sensor_fails_at_start() -> None:
    s = scenario(faults=[{"type": "spike", "sensor": "nowhere-aq-1", "duration": 5}])
    with pytest.raises(ScenarioError, match=r"faults\.0\.sensor = 'nowhere-aq-1'"):
        Simulator(s)


def test_fault_that_fits_no_target_fails_at_start() -> None:
    s = scenario(faults=[{"type": "unplug", "sensor": "centro-aq-00001", "duration": 5}])
    with pytest.raises(ScenarioError, match="no serial device"):
        Simulator(s)
    s = scenario(faults=[{"type": "stuck_phase", "sensor": "centro-aq-00001", "duration": 5}])
    with pytest.raises(ScenarioError, match="traffic_signal"):
        Simulator(s)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)

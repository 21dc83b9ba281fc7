"""The central configuration: defaults, overrides, and errors that name key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.config import ConfigError, load


def test_packaged_defaults_load(tmp_path: Path) -> None:
    cfg = load(Path("deploy/config/central.yaml"), environ={})
    assert cfg.run == ("tsdb", "detect", "liveness")
    assert cfg.http.port == 19200
    assert cfg.tsdb.group_id == "tsdb" and cfg.tsdb.topics == (
        "city.air_quality.v1",
        "city.camera.v1",
        "city.traffic_signal.v1",
    )
    assert cfg.kafka.bootstrap and cfg.influx.url and cfg.influx.bucket
    assert cfg.only(("detect",)).run == ("detect",)


def test_env_override(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("tsdb: {max_records: 100}\n")
    cfg = load(path, environ={"CITYGATE__TSDB__MAX_RECORDS": "250", "CITYGATE__HTTP__PORT": "0"})
    assert cfg.tsdb.max_records == 250 and cfg.http.port == 0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("tsdb: {max_records: 0}", "tsdb.max_records = 0"),
        ("run: [tsdb, nope]", "run.1 = 'nope'"),
        ("detect: {colour: red}", "detect.colour = 'red'"),
        ("influx: {token: secret}", "influx.token must not be written"),
        ("- a list", "expected a mapping"),
    ],
)
def test_errors_name_key_and_value(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(path, environ={})
    assert needle in str(err.value)

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
    cfg = load(path, environ={"CITYGATE_TSDB__MAX_RECORDS": "250", "CITYGATE_HTTP__PORT": "0"})
    assert cfg.tsdb.max_records == 250 and cfg.http.port == 0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("tsdb: {max_records: 0}", "tsdb.max_records = 0"),
        ("run: [tsdb, nope]", "run.1 = 'nope'"),
        ("detect: {colour: red}", "detect.colour = 'red'"),
        ("influx: {token: secret}", "influx.token = <hidden>: a secret is never written"),
        ("- a list", "expected a mapping"),
    ],
)
def test_errors_name_key_and_value(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(path, environ={})
    assert needle in str(err.value)


def test_the_token_comes_from_a_variable_or_a_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("influx: {url: 'http://influx.example:8086'}\n")
    cfg = load(path, environ={"CITYGATE_INFLUX__TOKEN": "t0k"})
    assert cfg.influx.token_value() == "t0k" and "t0k" not in repr(cfg)
    secret = tmp_path / "influx.token"
    secret.write_text("from-file\n")
    cfg = load(path, environ={"CITYGATE_INFLUX__TOKEN_FILE": str(secret)})
    assert cfg.influx.token_value() == "from-file"
    assert cfg.influx.url == "http://influx.example:8086"  # the file's, over the stack's

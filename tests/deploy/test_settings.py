"""The one configuration loader: YAML, then CITYGATE_ variables; errors name key and value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, SecretStr, field_validator

from deploy import settings
from deploy.settings import ConfigError, Section, Settings


class Broker(Section):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    topics: tuple[str, ...] = ("city/#",)
    password: SecretStr | None = None
    password_file: Path | None = None

    _password_file_readable = field_validator("password_file")(settings.readable_file)


class Daemon(Settings):
    name: str = "d"
    broker: Broker = Broker()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "daemon.yaml"
    path.write_text(text)
    return path


def load(path: Path | None, **environ: str) -> Daemon:
    return settings.load(Daemon, path, "daemon", environ=environ)


def test_the_file_sets_keys_and_variables_override_it(tmp_path: Path) -> None:
    path = write(tmp_path, "name: from-file\nbroker: {host: broker.example, port: 8883}\n")
    cfg = load(path, CITYGATE_BROKER__PORT="2883")
    assert (cfg.name, cfg.broker.host, cfg.broker.port) == ("from-file", "broker.example", 2883)
    assert load(path, CITYGATE_NAME="from-env").name == "from-env"


def test_nested_variables_take_lists_as_json_and_names_in_any_case(tmp_path: Path) -> None:
    cfg = load(None, citygate_broker__topics='["a/+", "b/#"]', CITYGATE_BROKER__HOST="h")
    assert cfg.broker.topics == ("a/+", "b/#") and cfg.broker.host == "h"


def test_a_section_as_json_and_a_nested_variable_over_it(tmp_path: Path) -> None:
    environ = {"CITYGATE_BROKER__PORT": "2883", "CITYGATE_BROKER": '{"host": "h", "port": 1}'}
    cfg = load(write(tmp_path, "broker: {host: file}\n"), **environ)
    assert (cfg.broker.host, cfg.broker.port) == ("h", 2883)


def test_variables_of_keys_another_schema_has_are_left_to_it() -> None:
    assert settings.from_environment(Daemon, {"CITYGATE_KAFKA__BOOTSTRAP": "k:1"}) == {}
    with pytest.raises(ConfigError, match=r"broker\.hots"):
        load(None, CITYGATE_BROKER__HOTS="h")


def test_options_override_variables(tmp_path: Path) -> None:
    cfg = settings.load(
        Daemon,
        None,
        "daemon",
        environ={"CITYGATE_BROKER__PORT": "2883"},
        overrides={"broker": {"port": 3883}},
    )
    assert cfg.broker.port == 3883


def test_a_secret_comes_from_a_variable_or_a_file_and_is_never_shown(tmp_path: Path) -> None:
    assert load(None, CITYGATE_BROKER__PASSWORD="pw").broker.password == SecretStr("pw")
    secret = tmp_path / "broker.secret"
    secret.write_text("from-file\n")
    cfg = load(write(tmp_path, f"broker: {{password_file: {secret}}}"))
    assert cfg.broker.password is not None
    assert cfg.broker.password.get_secret_value() == "from-file"
    assert "from-file" not in repr(cfg) and "from-file" not in str(cfg)


def test_a_secret_in_the_file_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, "broker: {password: hunter2}"))
    assert "broker.password = <hidden>" in str(err.value)
    assert "CITYGATE_BROKER__PASSWORD or broker.password_file" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_a_secret_that_fails_validation_is_not_shown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(None, CITYGATE_BROKER__PASSWORD="hunter2", CITYGATE_BROKER__PORT="0")
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "environ", "line"),
    [
        ("broker: {port: 0}", {}, "broker.port = 0: Input should be greater than or equal to 1"),
        (
            "",
            {"CITYGATE_BROKER__PORT": "many"},
            "broker.port = 'many' (from CITYGATE_BROKER__PORT): Input should be a valid integer",
        ),
        ("brokr: {}", {}, "brokr = {}: not a known key; expected one of name, broker"),
        ("broker: {hots: x}", {}, "broker.hots = 'x': not a known key; expected one of host,"),
        (
            "broker: {password_file: /nowhere/secret}",
            {},
            "broker.password_file = '/nowhere/secret': Value error, expected a readable file",
        ),
    ],
)
def test_a_wrong_value_names_the_key_the_value_and_the_expected_form(
    tmp_path: Path, text: str, environ: dict[str, str], line: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text), **environ)
    assert line in str(err.value)
    assert err.value.problems and all("\n" not in p for p in err.value.problems)


def test_every_problem_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, "name: [1]\nbroker: {port: 0, host: [x]}"))
    assert len(err.value.problems) == 3
    assert str(err.value).count("\n") == 3  # the heading, then one line each


@pytest.mark.parametrize(
    ("text", "needle"),
    [("[1, 2]", "expected a mapping of settings"), ("a: [", "not valid YAML")],
)
def test_a_file_that_is_not_a_mapping_is_named(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load(write(tmp_path, text))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read daemon config .*nope.yaml"):
        load(tmp_path / "nope.yaml")


def test_a_variable_that_is_not_json_where_a_list_is_expected(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"broker\.topics = .* \(from CITYGATE_BROKER__TOPICS\): not valid"
    ):
        load(None, CITYGATE_BROKER__TOPICS="[a, b")


def test_the_variable_of_a_key() -> None:
    assert settings.env_name("kafka", "bootstrap") == "CITYGATE_KAFKA__BOOTSTRAP"
    assert settings.env_name("heartbeat_s") == "CITYGATE_HEARTBEAT_S"


@pytest.mark.parametrize(
    ("variable", "line"),
    [
        ("CITYGATE__BROKER__PORT", "CITYGATE__BROKER__PORT: the prefix is CITYGATE_ with one"),
        ("CITYGATE_BROKER_PORT", "CITYGATE_BROKER_PORT: not a citygate variable; broker.port is "),
    ],
)
def test_a_variable_of_the_old_styles_is_an_error_not_ignored(variable: str, line: str) -> None:
    with pytest.raises(ConfigError, match=line):
        load(None, **{variable: "2883"})

"""The one configuration loader: YAML, then CITYGATE_ variables; errors name key and value."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from msgspec import Meta

from deploy import settings
from deploy.settings import Before, Check, ConfigError, Secret, Section, Settings


class Broker(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 1883
    topics: tuple[str, ...] = ("city/#",)
    password: Secret | None = None
    password_file: Annotated[Path | None, Check(settings.readable_file)] = None


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
    assert load(None, CITYGATE_BROKER__PASSWORD="pw").broker.password == Secret("pw")
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
        ("broker: {port: 0}", {}, "broker.port = 0: "),
        (
            "",
            {"CITYGATE_BROKER__PORT": "many"},
            "broker.port = 'many' (from CITYGATE_BROKER__PORT): ",
        ),
        ("brokr: {}", {}, "brokr = {}: not a known key; expected one of name, broker"),
        ("broker: {hots: x}", {}, "broker.hots = 'x': not a known key; expected one of host,"),
        (
            "broker: {password_file: /nowhere/secret}",
            {},
            "broker.password_file = '/nowhere/secret': expected a readable file",
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


class Item(Section, frozen=True):
    kind: Literal["a", "b"] = "a"
    size: Annotated[int, Meta(ge=1)] = 1


class Other(Section, kw_only=True, frozen=True):
    kind: Literal["c"]
    label: str = ""


def _doubled(value: object) -> object:
    return value * 2 if isinstance(value, int) else value


def _even(value: int) -> int:
    if value % 2:
        raise ValueError("expected an even number")
    return value


class Shapes(Settings, frozen=True):
    items: tuple[Item, ...] = ()
    either: Item | Other = Item()
    when: Literal["now"] | int = "now"
    doubled: Annotated[int, Before(_doubled), Check(_even)] = 2


def test_every_problem_is_named_at_its_own_key_inside_lists_and_unions() -> None:
    with pytest.raises(ConfigError) as err:
        settings.validate(
            Shapes,
            {"items": [{"size": 2}, {"size": 0}, {"kind": "z"}], "either": {"kind": "c", "x": 1}},
            "test",
        )
    keys = [p.split(" = ", 1)[0] for p in err.value.problems]
    assert keys == ["items.1.size", "items.2.kind", "either.x"]
    assert "expected one of 'a', 'b'" in err.value.problems[1]


def test_a_union_takes_the_first_member_that_fits_and_sections_go_by_their_tag() -> None:
    cfg = settings.validate(Shapes, {"either": {"kind": "c"}, "when": "7", "doubled": 3}, "t")
    assert isinstance(cfg.either, Other) and cfg.when == 7 and cfg.doubled == 6
    assert settings.validate(Shapes, {}, "t").when == "now"
    with pytest.raises(ConfigError, match="when = 'later'"):
        settings.validate(Shapes, {"when": "later"}, "t")
    with pytest.raises(ConfigError, match=r"either\.kind = 'd': expected one of a, b, c"):
        settings.validate(Shapes, {"either": {"kind": "d"}}, "t")


def test_before_reshapes_the_raw_value_and_check_tests_the_typed_one() -> None:
    with pytest.raises(ConfigError, match="doubled = 'x': "):
        settings.validate(Shapes, {"doubled": "x"}, "t")
    assert settings.validate(Shapes, {"doubled": 5}, "t").doubled == 10


def test_a_secret_never_shows_in_repr_or_str() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret) + str(secret) + repr(Broker(password=secret))
    assert secret.get_secret_value() == "hunter2" and secret == Secret("hunter2")

"""Loading a daemon's configuration: a YAML file, then CITYGATE__SECTION__KEY overrides, then
validation by the daemon's pydantic schema. Errors name the key, the value and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from edge.errors import CitygateError

ENV_PREFIX = "CITYGATE__"

M = TypeVar("M", bound=BaseModel)


class ConfigError(CitygateError):
    """A configuration file or an override is invalid; the message names key and value."""


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {what} config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


def apply_env(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """CITYGATE__KAFKA__BOOTSTRAP=h:p sets kafka.bootstrap (values parsed as YAML scalars)."""
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{name}: {'.'.join(path)} is not a section")
        node[path[-1]] = yaml.safe_load(raw)
    return data


def validate(model: type[M], data: dict[str, Any], source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{key} = {err.get('input')!r}: {err['msg']}")
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(problems)) from exc


def load(
    path: Path,
    model: type[M],
    what: str,
    environ: dict[str, str] | None = None,
    check: Callable[[dict[str, Any]], None] = lambda data: None,
) -> M:
    """Read, check the raw file (`check` may raise ConfigError), override from env, validate."""
    data = read_yaml(path, what)
    check(data)
    data = apply_env(data, dict(os.environ if environ is None else environ))
    return validate(model, data, str(path))

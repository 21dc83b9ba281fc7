"""docs/configuration.md is what the schemas say: regenerate it with `make docs`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from deploy import settings

DOCS = Path(__file__).parents[2] / "docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_configuration", DOCS / "generate_configuration.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_reference_is_up_to_date() -> None:
    gen = _generator()
    assert (DOCS / "configuration.md").read_text() == gen.render(gen.SCHEMAS), (
        "docs/configuration.md is stale: run `make docs`"
    )


def test_the_reference_names_every_key_and_its_variable() -> None:
    text = (DOCS / "configuration.md").read_text()
    gen = _generator()
    for schema in gen.SCHEMAS:
        for key in settings.keys(schema.model):
            assert f"`{key.dotted}`" in text
            if not key.section and not key.in_list:
                assert f"`{settings.env_name(*key.path)}`" in text
    rows = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    for old in ("CITYGATE_KAFKA_BOOTSTRAP", "CITYGATE_DASHBOARD_PORT", "CITYGATE__"):
        assert old not in rows

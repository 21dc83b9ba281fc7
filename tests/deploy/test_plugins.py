"""Subcommands from entry points: a command whose extra is not installed says which, in one line."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import click
import pytest
from click.testing import CliRunner

from deploy.plugins import PluginGroup


class _Missing(EntryPoint):
    def load(self) -> click.Command:
        raise ModuleNotFoundError("No module named 'numpy'", name=self.value)


def group(missing: str) -> PluginGroup:
    root = PluginGroup(name="citygate", entry_point_group="citygate.test")
    point = _Missing(name="central", value=missing, group="citygate.test")
    root._entry_points = lambda: {"central": point}  # type: ignore[method-assign]
    return root


def test_a_command_whose_extra_is_left_out_names_the_package_and_exits_2() -> None:
    result = CliRunner().invoke(group("numpy.linalg"), ["central", "run"])
    assert result.exit_code == 2
    assert "needs the package numpy" in result.output and "--all-extras" in result.output
    assert "Traceback" not in result.output


def test_a_missing_module_of_our_own_is_a_broken_install_not_an_extra() -> None:
    result = CliRunner().invoke(group("central.nothing"), ["central", "run"])
    assert isinstance(result.exception, ModuleNotFoundError)
    with pytest.raises(ModuleNotFoundError):
        group("central.nothing").get_command(click.Context(click.Command("x")), "central")

"""Commands contributed by packages through entry points: a click group that lists them by name
and imports a command's module only when that command runs, so the group imports nothing upward.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click

_OWN = frozenset({"citygate", "gateway", "central", "firmware_sim", "deploy", "edge"})


class PluginGroup(click.Group):
    """A click group whose subcommands are the entry points of `entry_point_group`."""

    def __init__(self, *args: Any, entry_point_group: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entry_point_group = entry_point_group

    def _entry_points(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=self.entry_point_group)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._entry_points()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        found = self._entry_points().get(cmd_name)
        if found is None:
            return None
        try:
            loaded = found.load()
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] in _OWN:
                raise  # our own module missing: a broken install, not a left-out extra
            # A gateway-only install (the Raspberry Pi's) leaves out what other commands need.
            raise click.UsageError(
                f"`{ctx.command_path} {cmd_name}` needs the package {exc.name.split('.')[0]}, "
                "which this install leaves out: install citygate with its extras "
                "(uv sync --locked --all-extras)"
            ) from exc
        if not isinstance(loaded, click.Command):
            raise click.ClickException(
                f"entry point {found.value} of {self.entry_point_group} is not a click command"
            )
        return loaded

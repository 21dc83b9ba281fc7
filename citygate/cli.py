"""The `citygate` command. Its subcommands are `citygate.commands` entry points (pyproject.toml),
loaded only when they run; every citygate error ends the command with one line and exit code 2.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from deploy.plugins import PluginGroup
from edge.errors import CitygateError

EXIT_ERROR = 2


class CitygateGroup(PluginGroup):
    """The root group: a CitygateError from any subcommand becomes one line on stderr and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CitygateError as exc:
            # One line whatever the message's layout: a list of problems is joined with "; ".
            first, *rest = [line.strip() for line in str(exc).splitlines() if line.strip()] or [""]
            message = " ".join([first, "; ".join(rest)]) if rest else first
            click.echo(f"citygate: error: {message}", err=True)
            sys.exit(EXIT_ERROR)


@click.group(cls=CitygateGroup, entry_point_group="citygate.commands")
@click.version_option(package_name="citygate")
def cli() -> None:
    """citygate: smart-city sensor ingestion (gateway, central consumers, simulator)."""


def main() -> None:
    cli()

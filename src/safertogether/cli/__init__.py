"""The ``safer`` command: a thin face over the library (Typer + Rich), one module per command group.

Each group module holds its own ``typer.Typer`` named ``app``; this module only assembles them, so adding a
capability's commands is one new module and one line here.
"""

from __future__ import annotations

import sys

import typer

from safertogether.cli import (
    access,
    alerts,
    audit,
    exchange,
    explore,
    forecast,
    imports,
    link,
    patrols,  # noqa: F401  (adds `plan patrols` and `plan dosage`)
    plan,
    publish,
    serve,
    synth,
    users,
)
from safertogether.cli import index as index_group

app = typer.Typer(help="Safer Together: pool community-safety data and answer questions about neighbourhoods.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

for group, name in ((imports, "import"), (link, "link"), (access, "access"), (synth, "synth"), (audit, "audit"),
                    (users, "users"), (forecast, "forecast"), (plan, "plan")):
    app.add_typer(group.app, name=name)
app.add_typer(index_group.app, name="index")
app.add_typer(alerts.app, name="alerts")
app.add_typer(publish.app, name="publish")
app.add_typer(exchange.app, name="exchange")
for command in (explore.quality, explore.areas, explore.export, explore.summary, serve.serve, serve.demo):
    app.command()(command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)

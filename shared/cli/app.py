"""``renkei app``: the Streamlit app for business users."""

from __future__ import annotations

import sys

import click

from .main import Ctx, cli


@cli.command()
@click.option("--port", default=8501, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
def app(obj: Ctx, port: int, host: str) -> None:
    """Open the Streamlit app (lineage, approvals, roles, guard, audit) for business users.

    This process becomes Streamlit's (exec): stopping it (Ctrl-C, SIGTERM, SIGKILL, a
    supervisor) stops the app, with no server left behind."""
    import os

    from shared.paths import APP_HOME as home

    if not home.exists():
        raise click.ClickException(f"{home} not found: run renkei app from a Renkei checkout")
    from shared.config.settings import app_environment

    obj.project_set()  # a wrong project folder fails here, with one line
    env = {**os.environ, **app_environment(obj.project_path, obj.ledger_override)}
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(home),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--browser.gatherUsageStats",
        "false",
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)

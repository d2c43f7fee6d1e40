"""``renkei audit verify/log``: the append-only audit chain."""

from __future__ import annotations

import sys

import click

from .main import Ctx, cli
from .output import Table, show


@cli.group()
def audit() -> None:
    """The append-only audit chain."""


@audit.command("verify")
@click.pass_obj
def audit_verify(obj: Ctx) -> None:
    """Recompute every entry's hash; exit 1 if anything was edited or deleted."""
    result = obj.ledger().audit.verify()
    if result.ok:
        click.echo(f"audit chain OK: {result.entries} entries, every hash matches")
        return
    click.echo(f"audit chain BROKEN ({result.entries} entries):", err=True)
    for p in result.problems:
        click.echo(f"  - {p}", err=True)
    sys.exit(1)


@audit.command("log")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=50, show_default=True)
@click.pass_obj
def audit_log(obj: Ctx, as_json: bool, limit: int) -> None:
    """Show the newest audit entries."""
    entries = obj.ledger().audit.entries()[-limit:]
    rows = [
        {"id": e.id, "ts": e.ts, "actor": e.actor, "action": e.action, "subject": e.subject}
        for e in entries
    ]
    show(
        rows, as_json, Table(["id", "ts", "actor", "action", "subject"], lambda r: list(r.values()))
    )

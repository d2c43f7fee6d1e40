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
    """Recompute every entry's hash, check the chain against its anchors, replay it against
    the state tables and verify every signature; exit 1 on any problem, naming it."""
    from shared.trust.replay import verify_trust

    r = verify_trust(obj.ledger(), obj.roles().identity, obj.project().storage.data_root)
    anchored = f", anchored up to entry {r.anchors.last_anchored}" if r.anchors else ""
    for note in r.notes:
        click.echo(f"note: {note}")
    if r.ok:
        click.echo(
            f"audit chain OK: {r.entries} entries, every hash matches{anchored}; state tables "
            "agree with the chain; every signature verifies"
        )
        return
    click.echo(f"audit chain BROKEN ({r.entries} entries{anchored}):", err=True)
    for p in r.problems:
        click.echo(f"  - {p}", err=True)
    sys.exit(1)


@audit.command("log")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=50, show_default=True)
@click.pass_obj
def audit_log(obj: Ctx, as_json: bool, limit: int) -> None:
    """Show the newest audit entries, with each one's signature and anchor status."""
    from shared.reports.trust import audit_trust

    ledger = obj.ledger()
    trust = audit_trust(ledger, obj.roles().identity, obj.project().storage.data_root)
    rows = [
        {
            "id": e.id,
            "ts": e.ts,
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "signature": trust["signature"].get(e.id, ""),
            "anchor": trust["anchor"][e.id],
        }
        for e in ledger.audit.entries()[-limit:]
    ]
    headers = ["id", "ts", "actor", "action", "subject", "signature", "anchor"]
    show(rows, as_json, Table(headers, lambda r: list(r.values())))

"""``renkei datasets`` and ``renkei quarantine``: what was ingested and what was held back."""

from __future__ import annotations

import click

from shared.ledger import LedgerError, QuarantineCheck

from .main import Ctx, cli
from .output import Table, show


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def datasets(obj: Ctx, as_json: bool) -> None:
    """List dataset versions: rows in, valid, quarantined, location, who and when."""
    table = Table(
        ["version", "rows in", "valid", "quarantined", "location", "created by", "created at"],
        lambda d: [
            d.version,
            f"{d.rows_in:,}",
            f"{d.rows_valid:,}",
            f"{d.rows_quarantined:,}",
            d.location,
            d.created_by,
            d.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        ],
    )
    show(
        obj.ledger().datasets.all(),
        as_json,
        table,
        empty="No datasets yet. Ingest one: python flows/ingest_flow.py run",
    )


@cli.command()
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--examples", default=3, show_default=True, help="Example rows per check.")
@click.pass_obj
def quarantine(obj: Ctx, version: str, as_json: bool, examples: int) -> None:
    """Show why rows of dataset VERSION were quarantined, grouped by check."""
    try:
        summary = obj.ledger().datasets.quarantine(version, examples)
    except LedgerError as e:
        raise click.ClickException(str(e)) from None
    table = Table(
        ["column", "check", "rows", "examples"],
        lambda g: [
            g.column,
            g.check,
            f"{g.rows:,}",
            ", ".join(f"row {e.row}={e.value!r}" for e in g.examples),
        ],
    )

    def text(groups: list[QuarantineCheck]) -> None:
        click.echo(f"{summary.rows_quarantined:,} rows quarantined in {version}")
        if groups:
            click.echo(table.render(groups))

    show(summary.by_check, as_json, text, data=summary)

"""``renkei db upgrade``: create or migrate the ledger."""

from __future__ import annotations

import click

from shared.config.settings import ledger_url
from shared.ledger import Ledger

from .main import Ctx, cli


@cli.group()
def db() -> None:
    """The ledger's database."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Ctx) -> None:
    """Create the ledger if it does not exist and bring its schema to the newest revision
    (the only command that creates a ledger; every other one refuses a missing one)."""
    url = obj.ledger_override or ledger_url(obj.project())
    ledger = Ledger.open(url, create=True)
    click.echo(f"ledger {ledger.url}: schema at the newest revision")

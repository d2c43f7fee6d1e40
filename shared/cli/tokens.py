"""`renkei tokens`: bearer tokens of the scoring service (only their sha256 is stored)."""

from __future__ import annotations

import click

from shared.ledger import LedgerError
from shared.monitor.reports import text_table

from .main import Ctx, cli


@cli.group()
def tokens() -> None:
    """API tokens for `renkei serve` (Authorization: Bearer TOKEN)."""


@tokens.command("create")
@click.option("--name", required=True, help="Who or what uses it (shown in the service log).")
@click.pass_obj
def tokens_create(obj: Ctx, name: str) -> None:
    """Issue a token; it is printed once and only its hash is kept."""
    who = obj.identity(None).member
    try:
        token = obj.ledger().trust.create_token(name, who)
    except LedgerError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"token {name!r} (shown once; the ledger keeps only its sha256):")
    click.echo(token)


@tokens.command("list")
@click.pass_obj
def tokens_list(obj: Ctx) -> None:
    """Every token: name, who issued it, when, revoked or not."""
    rows = obj.ledger().trust.tokens()
    if not rows:
        click.echo("No API tokens: renkei tokens create --name NAME")
        return
    click.echo(
        text_table(
            [
                [
                    t.name,
                    t.created_by,
                    f"{t.created_at:%Y-%m-%d %H:%M}",
                    "active"
                    if t.active
                    else f"revoked {t.revoked_at:%Y-%m-%d %H:%M} by {t.revoked_by}",
                ]
                for t in rows
            ],
            ["name", "issued by", "when", "status"],
        )
    )


@tokens.command("revoke")
@click.argument("name")
@click.pass_obj
def tokens_revoke(obj: Ctx, name: str) -> None:
    """Revoke token NAME: a running service refuses it within service.token_cache_seconds
    (default 5 s: how long it holds a token's look-up)."""
    who = obj.identity(None).member
    try:
        obj.ledger().trust.revoke_token(name, who)
    except LedgerError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"token {name!r} revoked")

"""``renkei shadow``: attach a challenger beside an alias, or take it off (signed, audited)."""

from __future__ import annotations

import click

from .main import Ctx, cli
from .release import AS_HELP, _refusal


@cli.command()
@click.argument("version", required=False)
@click.option(
    "--alias", type=click.Choice(["staging", "production"]), default="production", show_default=True
)
@click.option("--off", is_flag=True, help="Detach the challenger of ALIAS.")
@click.option("--as", "user", default=None, help=AS_HELP)
@click.option("--reason", default="", help="Why (recorded in the alias history).")
@click.pass_obj
def shadow(
    obj: Ctx, version: str | None, alias: str, off: bool, user: str | None, reason: str
) -> None:
    """Attach candidate VERSION as the shadow challenger of ALIAS: batch scoring and the
    online service compute and record its guarded answer beside production's, never
    return it; the monitor flow compares the two on arrived labels. --off detaches it."""
    from shared.data.provenance import code_version
    from shared.operate.shadow import attach, detach

    if off == bool(version):
        raise click.UsageError("give a VERSION to attach, or --off to detach (not both)")
    signer = obj.signer(user)
    who = signer.identity.member
    if off:
        move = _refusal(detach, obj.ledger(), obj.roles(), alias, who, reason, signer)
        click.echo(f"{move.version} no longer shadows {alias}")
        return
    move = _refusal(
        attach,
        obj.ledger(),
        obj.roles(),
        obj.project(),
        obj.rules(),
        version,
        alias,
        who,
        reason,
        code_version().commit,
        signer,
    )
    dep = obj.ledger().releases.deployment(move.deployment_id)
    click.echo(f"{move.version} now shadows {alias} with rules {dep.rules_version}")
    click.echo(f"  bundle {dep.bundle_uri} (its answers are recorded, never returned)")

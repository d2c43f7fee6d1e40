"""``renkei approve/reject/promote/rollback/history/shadow``: reviews and alias moves (a
shadow challenger attached beside an alias, or taken off, included)."""

from __future__ import annotations

from typing import Any

import click

from shared.ledger import LedgerError

from .main import Ctx, cli
from .output import Table, show


def _refusal(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from shared.release import ReleaseRefused

    try:
        return fn(*args, **kwargs)
    except (ReleaseRefused, LedgerError) as e:
        raise click.ClickException(str(e)) from None


def _review(
    obj: Ctx, version: str, user: str | None, comment: str, role: str | None, decision: str
) -> None:
    from shared.monitor.shadow_evidence import record_seen, shadow_evidence
    from shared.release import approval_status, review

    signer = obj.signer(user)
    ledger = obj.ledger()
    roles = obj.roles()
    who = signer.identity.member
    evidence = shadow_evidence(ledger, version)  # shown, and recorded as seen
    for line in evidence.lines() if evidence else []:
        click.echo(line)
    rec = _refusal(review, ledger, roles, version, who, comment, decision, role, signer)
    if evidence:
        record_seen(ledger, who, rec, evidence)
    verb = "approved" if decision == "approve" else "rejected"
    click.echo(f"{signer.identity.label()} {verb} {rec.version} as {rec.role}: {rec.comment}")
    status = approval_status(ledger, roles, rec.version)
    if status.rejections:
        click.echo(f"{rec.version} is rejected in review and cannot go to production")
    elif status.missing:
        click.echo(f"{rec.version} still needs: {', '.join(status.missing)}")
    else:
        click.echo(f"{rec.version} has every approval production needs")


AS_HELP = (
    "Dev mode only (roles.yaml identity.dev_mode, the demo): act as this member, recorded as "
    "unverified. Otherwise you are your login (identity.provider, mapped in identity.logins)."
)


@cli.command()
@click.argument("version")
@click.option("--as", "user", default=None, help=AS_HELP)
@click.option("--comment", required=True, help="Why (recorded in the audit chain).")
@click.option(
    "--role", default=None, help="Which of your roles approves (default: the first open one)."
)
@click.pass_obj
def approve(obj: Ctx, version: str, user: str | None, comment: str, role: str | None) -> None:
    """Approve model VERSION for production (policy: the project's roles file, approval)."""
    _review(obj, version, user, comment, role, "approve")


@cli.command()
@click.argument("version")
@click.option("--as", "user", default=None, help=AS_HELP)
@click.option("--comment", required=True, help="Why (recorded in the audit chain).")
@click.option("--role", default=None, help="Which of your roles rejects.")
@click.pass_obj
def reject(obj: Ctx, version: str, user: str | None, comment: str, role: str | None) -> None:
    """Reject model VERSION: it cannot be promoted to production."""
    _review(obj, version, user, comment, role, "reject")


@cli.command()
@click.argument("version")
@click.option(
    "--to",
    "alias",
    type=click.Choice(["staging", "production"]),
    default="production",
    show_default=True,
)
@click.option("--as", "user", default=None, help=AS_HELP)
@click.option("--reason", default="", help="Why (recorded in the alias history).")
@click.pass_obj
def promote(obj: Ctx, version: str, alias: str, user: str | None, reason: str) -> None:
    """Move ALIAS to model VERSION, wrapped in the current guard rules."""
    from shared.data.provenance import code_version
    from shared.release import promote as do_promote

    signer = obj.signer(user)
    move = _refusal(
        do_promote,
        obj.ledger(),
        obj.roles(),
        obj.project(),
        obj.rules(),
        version,
        alias,
        signer.identity.member,
        reason,
        code_version().commit,
        signer,
    )
    dep = obj.ledger().releases.deployment(move.deployment_id)
    was = f" (was {move.previous_version})" if move.previous_version else ""
    click.echo(f"{alias} now serves {move.version}{was} with rules {dep.rules_version}")
    click.echo(f"  bundle {dep.bundle_uri}")
    click.echo(f"  signed (OpenSSF model signing, release key): {dep.bundle_uri}.sig")
    _detached(obj, move)


def _detached(obj: Ctx, move: Any) -> None:
    """Say so when the move took its version off as the shadow of its alias (promoted or
    rolled back there: shared.release.shadow.detach_promoted)."""
    from shared.ledger.releases import shadow_alias

    for m in obj.ledger().releases.history(shadow_alias(move.alias)):
        if m.id > move.id and m.action == "detach" and m.version == move.version:
            click.echo(f"  {m.version} no longer shadows {move.alias}: {m.reason}")


@cli.command()
@click.option("--as", "user", default=None, help=AS_HELP)
@click.option(
    "--alias", type=click.Choice(["staging", "production"]), default="production", show_default=True
)
@click.option("--reason", default="", help="Why (recorded in the alias history).")
@click.pass_obj
def rollback(obj: Ctx, user: str | None, alias: str, reason: str) -> None:
    """Move ALIAS back to the version it served before."""
    from shared.release import rollback as do_rollback

    signer = obj.signer(user)
    who = signer.identity.member
    keys = obj.release_keys()
    move = _refusal(do_rollback, obj.ledger(), obj.roles(), who, alias, reason, signer, keys=keys)
    click.echo(f"{alias} rolled back to {move.version} (was {move.previous_version})")
    _detached(obj, move)


@cli.command()
@click.option("--alias", default=None, help="Only this alias.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history(obj: Ctx, alias: str | None, as_json: bool) -> None:
    """Which version each alias served when, who moved it and why (append-only)."""
    table = Table(
        ["when", "alias", "action", "from", "to", "by", "why"],
        lambda m: [
            f"{m.at:%Y-%m-%d %H:%M:%S}",
            m.alias,
            m.action,
            m.previous_version or "-",
            m.version,
            m.actor,
            m.reason,
        ],
    )
    show(
        obj.ledger().releases.history(alias),
        as_json,
        table,
        empty="No promotions yet: renkei promote VERSION --to production --as USER",
    )


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
    from shared.release.shadow import attach, detach

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

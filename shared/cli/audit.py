"""``renkei audit verify/anchor/log``: the append-only audit chain."""

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


@audit.command("anchor")
@click.pass_obj
def audit_anchor(obj: Ctx) -> None:
    """Anchor the chain's head now: catches up after a crash between a commit and its
    anchor. Signed with your own key when you are a member listed in roles.yaml (in
    production only the Batch job role holds the ledger key; verify counts a member's
    catch-up for no more entries than a crash leaves), else with the ledger key. Refused
    (exit 1, nothing written) when `audit verify` finds any problem: an anchor never vouches
    for a chain that does not verify."""
    from shared.config.settings import current_user
    from shared.trust.anchors import member_anchor_key
    from shared.trust.identity import IdentityError, identify
    from shared.trust.keys import KeyError_
    from shared.trust.replay import catch_up

    settings = obj.roles().identity
    try:
        who = identify(settings, None, current_user())
    except IdentityError:  # not a member: only the ledger key may anchor
        who = None
    own = member_anchor_key(who, settings)
    try:
        r, cp = catch_up(obj.ledger(), settings, obj.project().storage.data_root, own)
    except KeyError_ as e:
        raise click.ClickException(
            f"{e} (in production a member listed in roles.yaml runs `renkei audit anchor` "
            "with their own key)"
        ) from None
    if not r.ok:
        click.echo("refused: `renkei audit verify` finds problems; nothing anchored:", err=True)
        for p in r.problems:
            click.echo(f"  - {p}", err=True)
        sys.exit(1)
    if cp is None:
        last = r.anchors.last_anchored if r.anchors else 0
        click.echo(f"nothing to anchor: every entry is anchored (up to entry {last})")
        return
    assert r.anchors is not None and r.anchors.unanchored is not None
    first, _ = r.anchors.unanchored
    by = f"{cp.signer}'s key (a catch-up)" if cp.signer else "the ledger key"
    click.echo(
        f"anchored entries {first}..{cp.last_id}: checkpoint of entry {cp.last_id} signed by "
        f"{by} {cp.public_key}"
    )


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

"""`renkei keys`: the Ed25519 key you sign decisions with, and the ledger's anchor key
(a key file, or an AWS Secrets Manager secret: roles.yaml identity.ledger_key.secret)."""

from __future__ import annotations

import click

from shared.trust import keys as k

from .main import Ctx, cli


def _folder_and_name(obj: Ctx, member: str | None) -> tuple[object, str]:
    roles, cfg = obj.roles(), obj.project()
    folder = k.key_dir(roles.identity.dev_mode, cfg.storage.data_root)
    if member is not None and not roles.identity.dev_mode:
        raise click.ClickException(
            "--member is accepted only in dev mode (roles.yaml identity.dev_mode): a key is "
            "made for your own login; drop --member"
        )
    return folder, obj.identity(member).member


def _ledger_store(obj: Ctx) -> object:
    from shared.trust.ledger_keys import ledger_key_store

    return ledger_key_store(obj.roles().identity, obj.project().storage.data_root)


@cli.group()
def keys() -> None:
    """Signing keys (Ed25519): yours signs approvals, rejections, promotions, rollbacks."""


@keys.command("init")
@click.option("--member", default=None, help="Dev mode only: make the key of this member.")
@click.option("--ledger", "ledger", is_flag=True, help="The ledger's key (signs anchors).")
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing key of yours (old signatures then verify only once "
    "`renkei keys revoke` records the old key). The ledger's: `renkei keys rotate --ledger`.",
)
@click.pass_obj
def keys_init(obj: Ctx, member: str | None, ledger: bool, force: bool) -> None:
    """Create your signing key (private half stays in the key folder, mode 0600); with
    --ledger, the ledger's (in its Secrets Manager secret when roles.yaml names one)."""
    if ledger:
        if force:
            raise click.ClickException(
                "the ledger key is replaced by `renkei keys rotate --ledger` (audited; old "
                "anchors keep verifying): drop --force"
            )
        store = _ledger_store(obj)
        try:
            key, created = store.create()  # type: ignore[attr-defined]
        except k.KeyError_ as e:
            raise click.ClickException(str(e)) from None
        where = store.describe()  # type: ignore[attr-defined]
        click.echo(f"{'created' if created else 'kept the existing'} ledger key: {where}")
        click.echo("public key (list it in roles.yaml identity.ledger_key.public):")
        click.echo(k.public_text(key.public_key()))
        return
    folder, name = _folder_and_name(obj, member)
    path, created = k.init_key(folder, name, overwrite=force)  # type: ignore[arg-type]
    public = k.public_text(k.load_key(folder, name).public_key())  # type: ignore[arg-type]
    click.echo(f"{'created' if created else 'kept the existing'} key of {name}: {path}")
    click.echo(f"public key (list it in roles.yaml identity.public_keys: {{{name}: ...}}):")
    click.echo(public)


@keys.command("show")
@click.option("--member", default=None, help="Dev mode only: this member's key.")
@click.option("--ledger", "ledger", is_flag=True, help="The ledger's key.")
@click.pass_obj
def keys_show(obj: Ctx, member: str | None, ledger: bool) -> None:
    """Print the public half of your key (what roles.yaml lists)."""
    try:
        if ledger:
            key = _ledger_store(obj).load()  # type: ignore[attr-defined]
        else:
            folder, name = _folder_and_name(obj, member)
            key = k.load_key(folder, name)  # type: ignore[arg-type]
    except k.KeyError_ as e:
        raise click.ClickException(str(e)) from None
    click.echo(k.public_text(key.public_key()))


@keys.command("rotate")
@click.option("--ledger", "ledger", is_flag=True, help="Rotate the ledger's key.")
@click.option("--as", "claimed", default=None, help="Dev mode only: act as this member.")
@click.pass_obj
def keys_rotate(obj: Ctx, ledger: bool, claimed: str | None) -> None:
    """Replace the ledger key by a new one where it lives (key file or secret), recorded in
    the audit chain and signed by both keys: anchors made with the old key keep verifying,
    new ones are signed with the new key."""
    from shared.trust.rotation import KeyChangeError, rotate_ledger_key

    if not ledger:
        raise click.ClickException(
            "only the ledger key rotates here (--ledger); your own: `renkei keys init --force`, "
            "list the new key in roles.yaml, then `renkei keys revoke YOU --key OLD`"
        )
    who = obj.identity(claimed)
    try:
        r = rotate_ledger_key(
            obj.ledger(), obj.roles().identity, obj.project().storage.data_root, who.label()
        )
    except (KeyChangeError, k.KeyError_) as e:
        raise click.ClickException(str(e)) from None
    verb = "finished the interrupted rotation of" if r.finished else "rotated"
    click.echo(f"{verb} the ledger key in {r.store}: {k.key_id(r.old)} -> {k.key_id(r.new)}")
    if r.anchored is not None:
        click.echo(f"anchored entry {r.anchored} with the new key")
    click.echo("new public key (roles.yaml identity.ledger_key.public may pin it; the old pin")
    click.echo("still holds through the rotation entry, signed by both keys):")
    click.echo(r.new)


@keys.command("revoke")
@click.argument("member")
@click.option("--key", "public", default=None, help="The public key (default: roles.yaml's).")
@click.option("--reason", required=True, help="Why (kept in the audit entry).")
@click.option("--as", "claimed", default=None, help="Dev mode only: act as this member.")
@click.pass_obj
def keys_revoke(
    obj: Ctx, member: str, public: str | None, reason: str, claimed: str | None
) -> None:
    """Revoke MEMBER's key, audited: decisions they sign with it from now on are refused;
    the ones signed before keep verifying (the audit chain's order says which came first)."""
    from shared.trust.rotation import KeyChangeError, revoke_key

    signer = obj.signer(claimed)  # the revocation is signed by who revokes
    try:
        key, entry = revoke_key(obj.ledger(), obj.roles().identity, member, signer, reason, public)
    except KeyChangeError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"revoked {member}'s key {k.key_id(key)} at audit entry {entry}")
    if obj.roles().identity.public_keys.get(member) == key:
        click.echo(f"now take it out of roles.yaml identity.public_keys ({member})")

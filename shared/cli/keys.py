"""`renkei keys`: the Ed25519 key you sign decisions with, the ledger's anchor key (a key
file, or an AWS Secrets Manager secret: roles.yaml identity.ledger_key.secret) and the
release key that signs served bundles (OpenSSF model signing, elliptic curve P-256: a key
file, or a secret named by identity.release_key.secret)."""

from __future__ import annotations

from pathlib import Path

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


def _release_store(obj: Ctx) -> object:
    from shared.trust.release_key import release_key_store

    return release_key_store(obj.roles().identity, obj.project().storage.data_root)


def _release_init(obj: Ctx) -> None:
    from shared.guard.bundle_sign import public_text

    store = _release_store(obj)
    try:
        pem, created = store.create()  # type: ignore[attr-defined]
    except k.KeyError_ as e:
        raise click.ClickException(str(e)) from None
    where = store.describe()  # type: ignore[attr-defined]
    click.echo(f"{'created' if created else 'kept the existing'} release key: {where}")
    click.echo("public key (list it in roles.yaml identity.release_key.public):")
    click.echo(public_text(pem))


def _ledger_store(obj: Ctx) -> object:
    from shared.trust.ledger_keys import ledger_key_store

    return ledger_key_store(obj.roles().identity, obj.project().storage.data_root)


@cli.group()
def keys() -> None:
    """Signing keys (Ed25519): yours signs approvals, rejections, promotions, rollbacks."""


@keys.command("init")
@click.option("--member", default=None, help="Dev mode only: make the key of this member.")
@click.option("--ledger", "ledger", is_flag=True, help="The ledger's key (signs anchors).")
@click.option("--release", "release", is_flag=True, help="The release key (signs served bundles).")
@click.option(
    "--service",
    default=None,
    help="A service's key (e.g. app: signs and anchors what signed-in users decide in the "
    "app), in the key folder of the machine that runs it.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing key of yours (old signatures then verify only once "
    "`renkei keys revoke` records the old key). The ledger's: `renkei keys rotate --ledger`.",
)
@click.pass_obj
def keys_init(
    obj: Ctx, member: str | None, ledger: bool, release: bool, service: str | None, force: bool
) -> None:
    """Create your signing key (private half stays in the key folder, mode 0600); with
    --ledger, the ledger's, with --release the release key (each in its Secrets Manager
    secret when roles.yaml names one); with --service NAME, that service's."""
    if release:
        if force:
            raise click.ClickException(
                "the release key is replaced by `renkei keys rotate --release`: drop --force"
            )
        _release_init(obj)
        return
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
    if service is not None:
        folder, name = _service_folder(obj, service), service
        listing = "identity.service_keys"
    else:
        folder, name = _folder_and_name(obj, member)  # type: ignore[assignment]
        listing = "identity.public_keys"
    path, created = k.init_key(folder, name, overwrite=force)  # type: ignore[arg-type]
    public = k.public_text(k.load_key(folder, name).public_key())  # type: ignore[arg-type]
    click.echo(f"{'created' if created else 'kept the existing'} key of {name}: {path}")
    click.echo(f"public key (list it in roles.yaml {listing}: {{{name}: ...}}):")
    click.echo(public)


def _service_folder(obj: Ctx, service: str) -> Path:
    """Where a service's key lives: the key folder its process signs from (the app:
    shared.trust.decisions.signer_for). A member's name is refused: that is their key."""
    roles = obj.roles()
    if service in {p for members in roles.members.values() for p in members}:
        raise click.ClickException(
            f"{service!r} is a member in roles.yaml: a service key needs a name of its own "
            "(e.g. app)"
        )
    return k.key_dir(roles.identity.dev_mode, obj.project().storage.data_root)


@keys.command("show")
@click.option("--member", default=None, help="Dev mode only: this member's key.")
@click.option("--ledger", "ledger", is_flag=True, help="The ledger's key.")
@click.option("--release", "release", is_flag=True, help="The release key.")
@click.option("--service", default=None, help="A service's key (e.g. app).")
@click.option(
    "--pem",
    is_flag=True,
    help="With --release: as a PEM file, for `model_signing verify key --public_key`.",
)
@click.pass_obj
def keys_show(
    obj: Ctx, member: str | None, ledger: bool, release: bool, service: str | None, pem: bool
) -> None:
    """Print the public half of your key (what roles.yaml lists)."""
    if release:
        _release_show(obj, pem)
        return
    try:
        if ledger:
            key = _ledger_store(obj).load()  # type: ignore[attr-defined]
        elif service is not None:
            key = k.load_key(_service_folder(obj, service), service)
        else:
            folder, name = _folder_and_name(obj, member)
            key = k.load_key(folder, name)  # type: ignore[arg-type]
    except k.KeyError_ as e:
        raise click.ClickException(str(e)) from None
    click.echo(k.public_text(key.public_key()))


def _release_show(obj: Ctx, pem: bool) -> None:
    """The release key's public half: roles.yaml's pin, else the key store's own key."""
    from shared.guard.bundle_sign import public_pem, public_text

    rk = obj.roles().identity.release_key
    try:
        text = rk.public if rk and rk.public else public_text(_release_store(obj).load())  # type: ignore[attr-defined]
    except k.KeyError_ as e:
        raise click.ClickException(str(e)) from None
    click.echo(public_pem(text).decode().rstrip() if pem else text)


@keys.command("rotate")
@click.option("--ledger", "ledger", is_flag=True, help="Rotate the ledger's key.")
@click.option("--release", "release", is_flag=True, help="Rotate the release key.")
@click.option("--as", "claimed", default=None, help="Dev mode only: act as this member.")
@click.pass_obj
def keys_rotate(obj: Ctx, ledger: bool, release: bool, claimed: str | None) -> None:
    """Replace the ledger key by a new one where it lives (key file or secret), recorded in
    the audit chain and signed by both keys: anchors made with the old key keep verifying,
    new ones are signed with the new key. With --release, the release key, recorded in the
    audit chain too (signed by the old and the new release key): bundles it signed keep
    loading while its public half is listed in identity.release_key.previous."""
    from shared.trust.rotation import KeyChangeError, rotate_ledger_key

    if release:
        _release_rotate(obj, claimed)
        return

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


def _release_rotate(obj: Ctx, claimed: str | None) -> None:
    from shared.trust.rotation import rotate_release_key_audited

    who = obj.identity(claimed)
    try:
        r = rotate_release_key_audited(
            obj.ledger(), obj.roles().identity, obj.project().storage.data_root, who.label()
        )
    except k.KeyError_ as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"rotated the release key in {r.store}: {k.key_id(r.old)} -> {k.key_id(r.new)}")
    click.echo(f"recorded at audit entry {r.entry}, signed by both keys")
    if obj.roles().identity.release_key and obj.roles().identity.release_key.public:
        click.echo("in roles.yaml identity.release_key, set public to the new key and add the")
        click.echo("old one to previous (bundles it signed keep loading until re-promoted):")
    else:
        click.echo("dev mode: the key folder keeps the old public half; bundles it signed load")
    click.echo(f"new: {r.new}")
    click.echo(f"old: {r.old}")

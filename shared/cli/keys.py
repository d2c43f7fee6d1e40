"""`renkei keys`: the Ed25519 key you sign decisions with, and the ledger's anchor key."""

from __future__ import annotations

import click

from shared.trust import keys as k

from .main import cli


def _folder_and_name(obj: object, member: str | None, ledger: bool) -> tuple[object, str, str]:
    roles, cfg = obj.roles(), obj.project()  # type: ignore[attr-defined]
    folder = k.key_dir(roles.identity.dev_mode, cfg.storage.data_root)
    if ledger:
        return folder, k.LEDGER_KEY, "the ledger (signs audit anchors)"
    if member is not None and not roles.identity.dev_mode:
        raise click.ClickException(
            "--member is accepted only in dev mode (roles.yaml identity.dev_mode): a key is "
            "made for your own login; drop --member"
        )
    who = obj.identity(member).member  # type: ignore[attr-defined]
    return folder, who, who


@cli.group()
def keys() -> None:
    """Signing keys (Ed25519): yours signs approvals, rejections, promotions, rollbacks."""


@keys.command("init")
@click.option("--member", default=None, help="Dev mode only: make the key of this member.")
@click.option("--ledger", "ledger", is_flag=True, help="The ledger's key (signs anchors).")
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing key (old signatures then verify only against the old public key).",
)
@click.pass_obj
def keys_init(obj: object, member: str | None, ledger: bool, force: bool) -> None:
    """Create your signing key (private half stays in the key folder, mode 0600)."""
    folder, name, who = _folder_and_name(obj, member, ledger)
    path, created = k.init_key(folder, name, overwrite=force)  # type: ignore[arg-type]
    public = k.public_text(k.load_key(folder, name).public_key())  # type: ignore[arg-type]
    click.echo(f"{'created' if created else 'kept the existing'} key of {who}: {path}")
    where = "ledger_key" if ledger else f"public_keys: {{{name}: ...}}"
    click.echo(f"public key (list it in roles.yaml identity.{where}):")
    click.echo(public)


@keys.command("show")
@click.option("--member", default=None, help="Dev mode only: this member's key.")
@click.option("--ledger", "ledger", is_flag=True, help="The ledger's key.")
@click.pass_obj
def keys_show(obj: object, member: str | None, ledger: bool) -> None:
    """Print the public half of your key (what roles.yaml lists)."""
    folder, name, _ = _folder_and_name(obj, member, ledger)
    try:
        click.echo(k.public_text(k.load_key(folder, name).public_key()))  # type: ignore[arg-type]
    except k.KeyError_ as e:
        raise click.ClickException(str(e)) from None

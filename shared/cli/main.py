"""The ``renkei`` group, its context (project folder and ledger, read once) and ``main``."""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

import click

from shared.config import (
    DEFAULT_PROJECT_PATH,
    ConfigError,
    CostsConfig,
    ProjectConfig,
    ProjectSet,
    RolesConfig,
    RulesConfig,
    load_project_set,
)
from shared.config.settings import ledger_url
from shared.ledger import Ledger, LedgerError
from shared.trust.decisions import Signer
from shared.trust.identity import Identity

if TYPE_CHECKING:
    from shared.guard.bundle_sign import ReleaseKeys


class Ctx:
    def __init__(self, project_path: str, ledger: str | None) -> None:
        self.project_path = project_path
        self.ledger_override = ledger
        self._set: ProjectSet | None = None
        self._who: Identity | None = None  # who acts, once asked (their writes' anchors)

    def project_set(self) -> ProjectSet:
        """The project folder's files (project, rules, roles, costs), read once."""
        if self._set is None:
            try:
                self._set = load_project_set(self.project_path)
            except ConfigError as e:
                raise click.ClickException(str(e)) from None
        return self._set

    def project(self) -> ProjectConfig:
        return self.project_set().project

    def roles(self) -> RolesConfig:
        return self.project_set().roles

    def rules(self) -> RulesConfig:
        return self.project_set().rules

    def costs(self) -> CostsConfig:
        return self.project_set().costs

    def ledger(self) -> Ledger:
        """The ledger, with its audit chain anchored outside the database (shared.trust):
        a verified member's writes with their own key, others with the ledger key."""
        from shared.trust.anchors import member_anchor_key, open_anchored

        ident = self.roles().identity
        try:
            url = self.ledger_override or ledger_url(self.project())
            return open_anchored(
                url,
                ident,
                self.project().storage.data_root,
                lambda: member_anchor_key(self._who, ident),
            )
        except LedgerError as e:
            raise click.ClickException(str(e)) from None

    def release_keys(self) -> ReleaseKeys:
        """The public release keys a bundle's signature is verified with (roles.yaml)."""
        from shared.trust.release_key import release_keys

        return release_keys(self.roles().identity, self.project().storage.data_root)

    def identity(self, claimed: str | None) -> Identity:
        """Who is acting (shared.trust.identity): --as only in dev mode."""
        from shared.config.settings import current_user
        from shared.trust.identity import IdentityError, identify

        try:
            self._who = identify(self.roles().identity, claimed, current_user())
            return self._who
        except IdentityError as e:
            raise click.ClickException(str(e)) from None

    def signer(self, claimed: str | None) -> Signer:
        """The acting identity and its signing key, loaded before anything is written."""
        from shared.trust.decisions import signer_for
        from shared.trust.keys import KeyError_

        ident = self.identity(claimed)
        try:
            return signer_for(
                ident,
                self.roles().identity,
                self.project().storage.data_root,
                self.rules().rules_hash(),
            )
        except KeyError_ as e:
            raise click.ClickException(str(e)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    "--config",
    "project_path",
    default=DEFAULT_PROJECT_PATH,
    show_default=True,
    help="The project folder (holding project.yaml) or its project.yaml; the rules, roles "
    "and costs files it names are read from beside it. Its storage.ledger_url names the ledger.",
)
@click.option(
    "--ledger",
    default=None,
    help="Ledger SQLAlchemy URL; overrides RENKEI_LEDGER_URL and the config.",
)
@click.option("--debug", is_flag=True, help="On an error, show the full traceback.")
@click.pass_context
def cli(ctx: click.Context, project_path: str, ledger: str | None, debug: bool) -> None:
    """Renkei: the ledger's datasets, models, lineage, approvals, releases, monitoring,
    costs and audit chain; the scoring service, the app and the AWS deployment.

    Run from the repository root (config/ is the default project folder), or pass
    --project DIR for another project.
    """
    ctx.obj = Ctx(project_path, ledger)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; Renkei, database, storage and bundle errors end in one line, exit 1
    (``--debug``: the traceback)."""
    code = _run(sys.argv[1:] if argv is None else argv)
    # Release native libraries' objects (pyarrow's readers and their threads) now, while the
    # libraries are alive: left to the interpreter's teardown, a pyarrow thread can abort
    # the process after the command finished (SIGABRT, "terminate called without an active
    # exception"; seen on a loaded machine in 1 of ~7 runs that read Parquet).
    gc.collect()
    if code:
        sys.exit(code)


def _run(args: list[str]) -> int:
    """The command's exit code, its error shown in one line."""
    from shared.config.errors import expected_errors, one_line

    try:
        rc = cli.main(args=args, prog_name="renkei", standalone_mode=False)
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except expected_errors() as e:
        if "--debug" in args:
            raise
        click.echo(f"Error: {one_line(e)}", err=True)
        return 1
    return rc if isinstance(rc, int) else 0

"""`renkei`: the command line over the ledger. Run `renkei --help`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

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
from shared.monitor.reports import comparison_table, text_table


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj):
        return _jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


class Ctx:
    def __init__(self, project_path: str, ledger: str | None) -> None:
        self.project_path = project_path
        self.ledger_override = ledger
        self._set: ProjectSet | None = None

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
        from shared.trust.anchors import open_anchored

        try:
            url = self.ledger_override or ledger_url(self.project())
            return open_anchored(url, self.roles().identity, self.project().storage.data_root)
        except LedgerError as e:
            raise click.ClickException(str(e)) from None

    def identity(self, claimed: str | None) -> Any:
        """Who is acting (shared.trust.identity): --as only in dev mode."""
        from shared.config.settings import current_user
        from shared.trust.identity import IdentityError, identify

        try:
            return identify(self.roles().identity, claimed, current_user())
        except IdentityError as e:
            raise click.ClickException(str(e)) from None

    def signer(self, claimed: str | None) -> Any:
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


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def datasets(obj: Ctx, as_json: bool) -> None:
    """List dataset versions: rows in, valid, quarantined, location, who and when."""
    rows = obj.ledger().datasets()
    if as_json:
        click.echo(json.dumps(_jsonable(rows), indent=2))
        return
    if not rows:
        click.echo("No datasets yet. Ingest one: python flows/ingest_flow.py run")
        return
    click.echo(
        text_table(
            [
                [
                    d.version,
                    f"{d.rows_in:,}",
                    f"{d.rows_valid:,}",
                    f"{d.rows_quarantined:,}",
                    d.location,
                    d.created_by,
                    d.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                ]
                for d in rows
            ],
            ["version", "rows in", "valid", "quarantined", "location", "created by", "created at"],
        )
    )


@cli.command()
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--examples", default=3, show_default=True, help="Example rows per check.")
@click.pass_obj
def quarantine(obj: Ctx, version: str, as_json: bool, examples: int) -> None:
    """Show why rows of dataset VERSION were quarantined, grouped by check."""
    try:
        summary = obj.ledger().quarantine(version, examples)
    except LedgerError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(_jsonable(summary), indent=2))
        return
    click.echo(f"{summary.rows_quarantined:,} rows quarantined in {version}")
    if not summary.by_check:
        return
    click.echo(
        text_table(
            [
                [
                    g["column"],
                    g["check"],
                    f"{g['rows']:,}",
                    ", ".join(f"row {e['row']}={e['value']!r}" for e in g["examples"]),
                ]
                for g in summary.by_check
            ],
            ["column", "check", "rows", "examples"],
        )
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--latest-candidate", is_flag=True, help="Print only the newest candidate's version.")
@click.pass_obj
def models(obj: Ctx, as_json: bool, latest_candidate: bool) -> None:
    """List model versions: family, status, metrics vs the baseline, data, who and when."""
    rows = obj.ledger().models()
    if latest_candidate:
        found = [m for m in rows if m.status == "candidate"]
        if not found:
            raise click.ClickException("no candidate registered: train one first")
        click.echo(found[0].version)
        return
    if as_json:
        click.echo(
            json.dumps(
                [{"version": m.version, **_jsonable(m)} for m in rows], indent=2, default=str
            )
        )
        return
    click.echo(comparison_table(rows))
    if rows:
        click.echo()
        click.echo(
            text_table(
                [
                    [
                        m.version,
                        ", ".join(m.datasets),
                        m.trained_by,
                        f"{m.created_at:%Y-%m-%d %H:%M}",
                    ]
                    for m in rows
                ],
                ["version", "trained on", "by", "when"],
            )
        )


@cli.command()
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def lineage(obj: Ctx, version: str, as_json: bool) -> None:
    """Trace model VERSION back to its code, config, run and raw data."""
    try:
        lin = obj.ledger().lineage(version)
    except LedgerError as e:
        raise click.ClickException(str(e)) from None
    m = lin.model
    if as_json:
        click.echo(
            json.dumps(
                {
                    "version": m.version,
                    "family": m.family,
                    "status": m.status,
                    "git_commit": m.git_commit,
                    "git_dirty": m.git_dirty,
                    "config_hash": m.config_hash,
                    "flow_run": m.flow_run,
                    "task": m.task_pathspec,
                    "artifact_uri": m.artifact_uri,
                    "trained_by": m.trained_by,
                    "datasets": lin.datasets,
                },
                indent=2,
                default=str,
            )
        )
        return
    dirty = " (uncommitted changes)" if m.git_dirty else ""
    click.echo(f"{m.version} {m.family} [{m.status}] trained by {m.trained_by}")
    click.echo(f"  code      {m.git_commit or 'unknown'}{dirty}")
    click.echo(f"  config    {m.config_hash}")
    click.echo(f"  run       {m.flow_run}  (task {m.task_pathspec})")
    click.echo(f"  artifact  {m.artifact_uri}")
    for d in lin.datasets:
        click.echo(
            f"  dataset   {d['version']}: {d['rows_valid']:,} valid of {d['rows_in']:,}, "
            f"{d['rows_quarantined']:,} quarantined"
        )
        click.echo(f"    raw     {d['raw_source']}  (kept at {d['raw_uri']})")


def _refusal(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from shared.release import ReleaseRefused

    try:
        return fn(*args, **kwargs)
    except (ReleaseRefused, LedgerError) as e:
        raise click.ClickException(str(e)) from None


def _review(
    obj: Ctx, version: str, user: str | None, comment: str, role: str | None, decision: str
) -> None:
    from shared.release import approval_status, review

    signer = obj.signer(user)
    ledger = obj.ledger()
    roles = obj.roles()
    who = signer.identity.member
    rec = _refusal(review, ledger, roles, version, who, comment, decision, role, signer)
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
    """Approve model VERSION for production (policy: config/roles.yaml approval)."""
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
    dep = obj.ledger().deployment(move.deployment_id)
    was = f" (was {move.previous_version})" if move.previous_version else ""
    click.echo(f"{alias} now serves {move.version}{was} with rules {dep.rules_version}")
    click.echo(f"  bundle {dep.bundle_uri}")


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
    move = _refusal(do_rollback, obj.ledger(), obj.roles(), who, alias, reason, signer)
    click.echo(f"{alias} rolled back to {move.version} (was {move.previous_version})")


@cli.command()
@click.option("--alias", default=None, help="Only this alias.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history(obj: Ctx, alias: str | None, as_json: bool) -> None:
    """Which version each alias served when, who moved it and why (append-only)."""
    moves = obj.ledger().alias_history(alias)
    if as_json:
        click.echo(json.dumps(_jsonable(moves), indent=2))
        return
    if not moves:
        click.echo("No promotions yet: renkei promote VERSION --to production --as USER")
        return
    click.echo(
        text_table(
            [
                [
                    f"{m.at:%Y-%m-%d %H:%M:%S}",
                    m.alias,
                    m.action,
                    m.previous_version or "-",
                    m.version,
                    m.actor,
                    m.reason,
                ]
                for m in moves
            ],
            ["when", "alias", "action", "from", "to", "by", "why"],
        )
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--alias", default="production", show_default=True)
@click.pass_obj
def serve(obj: Ctx, host: str, port: int, alias: str) -> None:
    """Serve the ALIAS bundle over HTTP: /predict, /health, /version (FastAPI + uvicorn).
    /predict and /version need `Authorization: Bearer TOKEN` (renkei tokens create)."""
    import uvicorn

    from shared.operate.service import create_app

    url = obj.ledger_override or ledger_url(obj.project())
    app = create_app(url, alias, cfg=obj.project(), identity=obj.roles().identity)
    uvicorn.run(app, host=host, port=port, log_level="info")


@cli.command()
@click.argument("path")
@click.option("--as", "user", default=None, help=AS_HELP)
@click.option(
    "--batch",
    "scoring_batch",
    type=int,
    default=None,
    help="The scoring batch these labels are for (default: each id's newest scoring batch).",
)
@click.pass_obj
def feedback(obj: Ctx, path: str, user: str | None, scoring_batch: int | None) -> None:
    """Record delayed labels from PATH (CSV/Parquet with the id and target columns), joined
    by id within one scoring batch."""
    from shared.data.validation import RawInputError
    from shared.operate.feedback import apply_feedback, read_labels

    cfg = obj.project()
    try:
        out = apply_feedback(
            obj.ledger(),
            cfg,
            read_labels(path),
            path,
            obj.identity(user).member,
            scoring_batch=scoring_batch,
        )
    except RawInputError as e:
        raise click.ClickException(str(e)) from None
    b = out.batch
    click.echo(
        f"{b.rows:,} labels from {path}: {b.accepted:,} accepted, {b.late:,} late (kept), "
        f"{b.duplicates:,} duplicates, {b.unknown:,} unknown ids, {b.invalid:,} invalid"
    )
    for status, ids in out.examples.items():
        click.echo(f"  {status}: e.g. {', '.join(ids)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--last", default=5, show_default=True, help="How many runs to show.")
@click.pass_obj
def monitoring(obj: Ctx, as_json: bool, last: int) -> None:
    """Monitoring runs: each check's value, threshold and verdict, and the retrain decision."""
    reports = obj.ledger().monitoring_reports()[-last:]
    if as_json:
        click.echo(json.dumps(_jsonable(reports), indent=2))
        return
    if not reports:
        click.echo("No monitoring runs yet: python flows/monitor_flow.py run")
        return
    for r in reports:
        decision = f"RETRAIN ({'; '.join(r.reasons)})" if r.retrain else "no retraining"
        run = f", retraining run {r.retrain_run}" if r.retrain_run else ""
        click.echo(
            f"report {r.id} on {r.version}, batches {r.batches}, {r.rows:,} rows, labels {r.label_coverage:.0%}: {decision}{run}"
        )
        click.echo(
            text_table(
                [
                    [
                        c["name"],
                        c["verdict"],
                        "-" if c["value"] is None else f"{c['value']:.3f}",
                        f"{c['threshold']:g}",
                    ]
                    for c in r.checks
                ],
                ["check", "verdict", "value", "threshold"],
            )
        )
        click.echo()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def costs(obj: Ctx, as_json: bool) -> None:
    """Fixed, variable and benefit per model version and for the project; break-even
    (the project folder's costs file)."""
    from shared.monitor.costs import economics

    econ = economics(obj.ledger(), obj.costs())
    if as_json:
        click.echo(
            json.dumps(
                {
                    "currency": econ.currency,
                    "fixed": econ.fixed,
                    "variable": econ.variable,
                    "benefit": econ.benefit,
                    "net": econ.net,
                    "break_even_at_models": econ.break_even_at,
                    "per_model": [{**_jsonable(m), "benefit": m.benefit} for m in econ.per_model],
                },
                indent=2,
            )
        )
        return
    c = econ.currency
    click.echo(
        text_table(
            [
                [
                    m.version,
                    m.family,
                    m.status,
                    f"{m.variable_cost:,.2f}",
                    f"{m.monthly_benefit:,.0f}",
                    f"{m.benefit:,.0f}",
                ]
                for m in econ.per_model
            ],
            ["version", "family", "status", f"variable {c}", f"benefit/month {c}", f"benefit {c}"],
        )
    )
    be = f"after {econ.break_even_at} model(s)" if econ.break_even_at else "not yet"
    click.echo(
        f"\nproject: fixed {econ.fixed:,.0f} + variable {econ.variable:,.2f} vs benefit "
        f"{econ.benefit:,.0f} {c} (net {econ.net:,.0f}); break-even {be}"
    )


@cli.command()
@click.option("--port", default=8501, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
def app(obj: Ctx, port: int, host: str) -> None:
    """Open the Streamlit app (lineage, approvals, roles, guard, audit) for business users."""
    import os
    import subprocess
    import sys

    from shared.paths import APP_HOME as home

    if not home.exists():
        raise click.ClickException(f"{home} not found: run renkei app from a Renkei checkout")
    from shared.config.settings import app_environment

    obj.project_set()  # a wrong project folder fails here, with one line
    env = {**os.environ, **app_environment(obj.project_path, obj.ledger_override)}
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(home),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--browser.gatherUsageStats",
        "false",
    ]
    raise SystemExit(subprocess.call(cmd, env=env))


@cli.group()
def deploy() -> None:
    """Deploy the flows to production."""


@deploy.command("aws")
@click.option(
    "--aws-config",
    "aws_path",
    default=None,
    help="Production settings YAML (default: the project folder's files.aws, aws.yaml).",
)
@click.option("--flow", "flows", multiple=True, help="Only these flows (default: all four).")
@click.option("--dry-run", is_flag=True, help="Write the state machine JSON files instead.")
@click.option(
    "--out", default="deploy/state-machines", show_default=True, help="Where --dry-run writes."
)
@click.option(
    "--settings-out",
    default="deploy/production",
    show_default=True,
    help="Where the production settings operators use are written (project.yaml + files).",
)
@click.option(
    "--print-iam",
    is_flag=True,
    help="Print the least-privilege IAM policy of each role as JSON; deploy nothing.",
)
@click.pass_obj
def deploy_aws(
    obj: Ctx,
    aws_path: str | None,
    flows: tuple[str, ...],
    dry_run: bool,
    out: str,
    settings_out: str,
    print_iam: bool,
) -> None:
    """Deploy ingest, train, score and monitor as scheduled AWS Step Functions (production
    branch), every step on AWS Batch (GPU steps on the GPU queue), settings from
    the project's aws file. Writes the production settings folder first: use it with
    `renkei --project DIR` to approve and promote in production. Needs AWS credentials (or AWS_ENDPOINT_URL)."""
    from pathlib import Path

    from shared.config import load_aws
    from shared.deploy import (
        FLOW_FILES,
        DeployError,
        deploy_flow,
        iam_policies,
        write_production_settings,
    )

    pset = obj.project_set()
    aws_path = aws_path or pset.aws_path
    try:
        aws = load_aws(aws_path)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    if print_iam:
        click.echo(json.dumps(iam_policies(pset.project, aws), indent=2))
        return
    try:
        settings = write_production_settings(Path(settings_out).resolve(), pset, aws_path).parent
    except (DeployError, ConfigError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"production settings in {settings} (renkei --project {settings})")
    from shared.paths import REPO as repo

    for flow in flows or tuple(FLOW_FILES):
        click.echo(f"deploying {flow} ...")
        try:
            r = deploy_flow(flow, settings, aws, repo, dry_run, Path(out))
        except DeployError as e:
            raise click.ClickException(str(e)) from None
        where = f" -> {r.json_path}" if r.json_path else ""
        click.echo(f"  state machine {r.state_machine}{where}")
        click.echo(f"  schedule      {r.schedule or 'none (run on demand)'}")
        click.echo(f"  queues        {', '.join(r.queues)}")


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


@audit.command("log")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=50, show_default=True)
@click.pass_obj
def audit_log(obj: Ctx, as_json: bool, limit: int) -> None:
    """Show the newest audit entries."""
    from shared.views.trust import audit_trust

    ledger = obj.ledger()
    trust = audit_trust(ledger, obj.roles().identity, obj.project().storage.data_root)
    entries = ledger.audit_entries()[-limit:]
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
        for e in entries
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    headers = ["id", "ts", "actor", "action", "subject", "signature", "anchor"]
    click.echo(text_table([list(r.values()) for r in rows], headers))


from shared.cli.keys import keys  # noqa: E402
from shared.cli.tokens import tokens  # noqa: E402

cli.add_command(keys)
cli.add_command(tokens)


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


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; Renkei, database, storage and bundle errors end in one line, exit 1
    (``--debug``: the traceback)."""
    from shared.errors import expected_errors, one_line

    args = sys.argv[1:] if argv is None else argv
    try:
        rc = cli.main(args=args, prog_name="renkei", standalone_mode=False)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except expected_errors() as e:
        if "--debug" in args:
            raise
        click.echo(f"Error: {one_line(e)}", err=True)
        sys.exit(1)
    if isinstance(rc, int) and rc:
        sys.exit(rc)

"""``renkei deploy aws``: the flows as scheduled Step Functions."""

from __future__ import annotations

import sys

import click

from shared.config import (
    ConfigError,
)

from .main import Ctx, cli
from .output import echo_json


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
@click.option("--flow", "only", multiple=True, help="Only these flows (default: all four).")
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
@click.option(
    "--test-account",
    "--allow-dev-mode",
    "allow_dev_mode",
    is_flag=True,
    help="Deploy although production would be in dev mode (anyone may act as anyone with "
    "--as), unanchored or unsigned: the refusals become warnings. For a test account only.",
)
@click.pass_obj
def deploy_aws(
    obj: Ctx,
    aws_path: str | None,
    only: tuple[str, ...],
    dry_run: bool,
    out: str,
    settings_out: str,
    print_iam: bool,
    allow_dev_mode: bool,
) -> None:
    """Deploy ingest, train, score and monitor as scheduled AWS Step Functions (production
    branch), every step on AWS Batch (GPU steps on the GPU queue), settings from
    the project's aws file. Writes the production settings folder first: use it with
    `renkei --project DIR` to approve and promote in production. Needs AWS credentials (or AWS_ENDPOINT_URL)."""
    from pathlib import Path

    from shared.config import load_aws
    from shared.deploy import (
        DeployError,
        deploy_flow,
        iam_policies,
        write_production_settings,
    )
    from shared.deploy.checks import apply_plan, production_plan

    pset = obj.project_set()
    if "roles" in pset.defaults and not print_iam:  # the demo team never goes to production
        from shared.deploy.settings import no_roles_file

        raise click.ClickException(no_roles_file(pset))
    aws_path = aws_path or pset.aws_path
    try:
        aws = load_aws(aws_path)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    if print_iam:
        echo_json(iam_policies(pset.project, aws))
        return
    try:
        plan = production_plan(pset, aws, aws_path, allow_dev_mode)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    refusals = plan.refusals
    if refusals and not (dry_run or allow_dev_mode):
        for why in refusals:
            click.echo(f"Error: {why}", err=True)
        sys.exit(1)
    for why in refusals:
        kind = "a real deployment is refused" if dry_run else "allowed for a test account"
        click.echo(f"warning ({kind}): {why}", err=True)
    for what in plan.writes:
        click.echo(f"{'would write' if dry_run else 'writes'}: {what}")
    try:
        out_dir = Path(settings_out).resolve()
        settings = write_production_settings(out_dir, pset, aws_path, allow_dev_mode).parent
        if not dry_run:
            apply_plan(plan, aws)
    except (DeployError, ConfigError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"production settings in {settings} (renkei --project {settings})")
    from shared.paths import FLOW_FILES
    from shared.paths import REPO as repo

    for flow in only or tuple(FLOW_FILES):
        click.echo(f"deploying {flow} ...")
        try:
            r = deploy_flow(flow, settings, aws, repo, dry_run, Path(out))
        except DeployError as e:
            raise click.ClickException(str(e)) from None
        where = f" -> {r.json_path}" if r.json_path else ""
        click.echo(f"  state machine {r.state_machine}{where}")
        click.echo(f"  schedule      {r.schedule or 'none (run on demand)'}")
        click.echo(f"  queues        {', '.join(r.queues)}")

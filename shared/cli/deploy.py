"""``renkei deploy aws``: the flows as scheduled Step Functions; with ``--service``, the scoring
endpoint on ECS Fargate behind an Application Load Balancer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shared.config import (
    ConfigError,
)

from .main import Ctx, cli

if TYPE_CHECKING:
    from shared.config import AwsConfig
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
@click.option(
    "--service",
    is_flag=True,
    help="Deploy the scoring endpoint (aws.yaml service:) instead of the flows: `renkei serve` "
    "on ECS Fargate behind an HTTPS load balancer, scaled by target tracking.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write the state machine JSON files (--service: service.json) instead.",
)
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
    service: bool,
    dry_run: bool,
    out: str,
    settings_out: str,
    print_iam: bool,
    allow_dev_mode: bool,
) -> None:
    """Deploy ingest, train, score and monitor as scheduled AWS Step Functions (production
    branch), every step on AWS Batch (GPU steps on the GPU queue), settings from
    the project's aws file. Writes the production settings folder first: use it with
    `renkei --project DIR` to approve and promote in production. Needs AWS credentials (or AWS_ENDPOINT_URL).
    With --service: the scoring endpoint instead (README, Production on AWS)."""
    from shared.config import load_aws
    from shared.deploy import (
        DeployError,
        deploy_flow,
        iam_policies,
        service_policies,
        write_production_settings,
    )
    from shared.deploy.checks import apply_plan, production_plan
    from shared.deploy.service import drain_problem, keep_alive_problem, no_service_section

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
        try:
            policies = (
                service_policies(pset.project, aws)
                if service
                else iam_policies(pset.project, aws, pset.roles.identity)
            )
        except DeployError as e:
            raise click.ClickException(str(e)) from None
        echo_json(policies)
        return
    if service and aws.service is None:  # before anything is written
        raise click.ClickException(f"{aws_path}: {no_service_section()}")
    if service and (problem := drain_problem(pset.project, aws)):
        raise click.ClickException(f"{aws_path}: field 'service.stop_timeout_seconds': {problem}")
    if service and (problem := keep_alive_problem(pset.project)):
        where = pset.sources["project"]
        raise click.ClickException(f"{where}: field 'service.keep_alive_seconds': {problem}")
    try:
        plan = production_plan(pset, aws, aws_path, allow_dev_mode)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    refusals = plan.refusals
    if (refusals and not (dry_run or allow_dev_mode)) or (plan.unworkable and not dry_run):
        for why in plan.unworkable + ([] if allow_dev_mode else refusals):
            click.echo(f"Error: {why}", err=True)
        sys.exit(1)
    for why in plan.unworkable + refusals:
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
    if service:
        _deploy_service(aws, settings, dry_run, Path(out))
        return
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


def _deploy_service(aws: AwsConfig, settings: Path, dry_run: bool, out: Path) -> None:
    from shared.deploy import DeployError, deploy_service

    click.echo("deploying the scoring service ...")
    try:
        r = deploy_service(aws, settings, dry_run, out)
    except DeployError as e:
        raise click.ClickException(str(e)) from None
    if r.json_path:
        click.echo(f"  definitions   -> {r.json_path} (nothing deployed)")
    click.echo(f"  service       {r.cluster}/{r.service} ({r.task_definition})")
    click.echo(f"  settings      {r.settings}")
    if r.url:
        click.echo(f"  endpoint      {r.url} (/predict, /version with a bearer token; /health)")


@deploy.command("fetch-settings")
@click.argument("uri")
@click.argument("dest")
def fetch_settings_cmd(uri: str, dest: str) -> None:
    """Copy the production settings folder deployed at URI (s3://...) into DEST: what a task
    of the scoring service runs before `renkei --project DEST serve`."""
    from pathlib import Path

    from shared.deploy import DeployError, fetch_settings

    try:
        files = fetch_settings(uri, Path(dest))
    except DeployError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{len(files)} settings files from {uri} in {dest}")

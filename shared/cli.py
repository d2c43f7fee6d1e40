"""`renkei`: the command line over the ledger. Run `renkei --help`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

import click

from shared.config import DEFAULT_PROJECT_PATH, ConfigError, load_project
from shared.ledger import Ledger, LedgerError
from shared.reports import comparison_table, text_table
from shared.settings import ledger_url


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
    def __init__(self, config_path: str, ledger: str | None) -> None:
        self.config_path = config_path
        self.ledger_override = ledger

    def ledger(self) -> Ledger:
        try:
            url = self.ledger_override or ledger_url(load_project(self.config_path))
            return Ledger.open(url)
        except (ConfigError, LedgerError) as e:
            raise click.ClickException(str(e)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    default=DEFAULT_PROJECT_PATH,
    show_default=True,
    help="Project settings YAML (its storage.ledger_url names the ledger).",
)
@click.option(
    "--ledger",
    default=None,
    help="Ledger SQLAlchemy URL; overrides RENKEI_LEDGER_URL and the config.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str, ledger: str | None) -> None:
    """Renkei: datasets, quarantines, models, lineage and the audit chain, from the ledger.

    Run from the repository root (where config/ lives), or pass --config.
    """
    ctx.obj = Ctx(config_path, ledger)


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
@click.pass_obj
def models(obj: Ctx, as_json: bool) -> None:
    """List model versions: family, status, metrics vs the baseline, data, who and when."""
    rows = obj.ledger().models()
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


@cli.group()
def audit() -> None:
    """The append-only audit chain."""


@audit.command("verify")
@click.pass_obj
def audit_verify(obj: Ctx) -> None:
    """Recompute every entry's hash; exit 1 if anything was edited or deleted."""
    result = obj.ledger().verify_audit()
    if result.ok:
        click.echo(f"audit chain OK: {result.entries} entries, every hash matches")
        return
    click.echo(f"audit chain BROKEN ({result.entries} entries):", err=True)
    for p in result.problems:
        click.echo(f"  - {p}", err=True)
    sys.exit(1)


@audit.command("log")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=50, show_default=True)
@click.pass_obj
def audit_log(obj: Ctx, as_json: bool, limit: int) -> None:
    """Show the newest audit entries."""
    entries = obj.ledger().audit_entries()[-limit:]
    rows = [
        {"id": e.id, "ts": e.ts, "actor": e.actor, "action": e.action, "subject": e.subject}
        for e in entries
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(
        text_table([list(r.values()) for r in rows], ["id", "ts", "actor", "action", "subject"])
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

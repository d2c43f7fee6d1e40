"""``renkei models`` and ``renkei lineage``: the registry and where a model came from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from shared.ledger import LedgerError
from shared.monitor.reports import comparison_table

from .main import Ctx, cli
from .output import Table, echo_json, jsonable, show

if TYPE_CHECKING:
    from shared.reports.champion import ChampionOnHoldout
    from shared.reports.lineage import RequestLineage
    from shared.reports.scored_lineage import ScoredRowLineage


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--latest-candidate", is_flag=True, help="Print only the newest candidate's version.")
@click.pass_obj
def models(obj: Ctx, as_json: bool, latest_candidate: bool) -> None:
    """List model versions: family, status, metrics vs the baseline, data, who and when."""
    rows = obj.ledger().registry.models()
    if latest_candidate:
        found = [m for m in rows if m.status == "candidate"]
        if not found:
            raise click.ClickException("no candidate registered: train one first")
        click.echo(found[0].version)
        return
    from shared.reports.champion import champion_on_holdout

    provenance = Table(
        ["version", "production on this holdout", "trained on", "by", "when"],
        lambda m: [
            m.version,
            _champion_cell(champion_on_holdout(m)),
            ", ".join(m.datasets),
            m.trained_by,
            f"{m.created_at:%Y-%m-%d %H:%M}",
        ],
    )

    from shared.reports.study import study_of

    def text(rows: list) -> None:
        click.echo(comparison_table(rows))
        if rows:
            click.echo()
            click.echo(provenance.render(rows))
        tuned = [(m, study_of(m)) for m in rows if m.resources.get("search")]
        if tuned:  # training.search: each tuned version's study and the trial it refitted
            click.echo()
            for m, study in tuned:
                click.echo(f"{m.version} {m.family}: {study.summary()}")

    data = [
        {
            "version": m.version,
            **jsonable(m),
            "production_on_holdout": jsonable(champion_on_holdout(m)),
            # training.search: the study (trials, parameters, values, the one chosen)
            "study": m.resources.get("search"),
        }
        for m in rows
    ]
    show(rows, as_json, text, data=data)


def _champion_cell(c: ChampionOnHoldout | None) -> str:
    """Production's score on a version's holdout as the gate measured it, or why none."""
    if c is None:
        return "- (reference)"
    return f"{c.version} {c.text(4)}" if c.score is not None else c.note


@cli.command()
@click.argument("version", required=False)
@click.option(
    "--batch", type=int, default=None, help="A scoring batch id (with --row or --row-id)."
)
@click.option("--row", type=int, default=None, help="The scored row's input row in the batch.")
@click.option("--row-id", default=None, help="The scored row's id (e.g. the order id).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def lineage(
    obj: Ctx,
    version: str | None,
    batch: int | None,
    row: int | None,
    row_id: str | None,
    as_json: bool,
) -> None:
    """Trace model VERSION (e.g. v3), an online answer's request id (the request_id of a
    /predict answer), or a batch-scored row (--batch ID --row N, or --row-id ID) back to its
    deployment, rules, code, config, run and raw data (for a row: its raw file and row)."""
    if (version is None) == (batch is None):
        raise click.UsageError("give a VERSION or REQUEST_ID, or --batch ID with --row/--row-id")
    request = scored = None
    try:
        if batch is not None:
            from shared.reports.scored_lineage import scored_row_lineage

            scored = scored_row_lineage(obj.ledger(), batch, row, row_id)
            lin = scored.lineage
        elif version.strip().lower().removeprefix("v").isdigit():
            lin = obj.ledger().registry.lineage(version)
        else:
            from shared.reports.lineage import request_lineage

            request = request_lineage(obj.ledger(), obj.project().storage.data_root, version)
            lin = request.lineage
    except (LedgerError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from None
    m = lin.model
    from shared.reports.champion import champion_on_holdout

    champ = champion_on_holdout(m)
    if scored is not None:
        _scored_header(scored, as_json)
    if request is not None:
        _request_header(request, as_json)
    if as_json:
        echo_json(
            {
                **(_request_json(request) if request is not None else {}),
                **(_scored_json(scored) if scored is not None else {}),
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
                "key_metric": m.key_metric,
                "metric": m.metrics.get(m.key_metric),
                "production_on_holdout": jsonable(champ),
                "datasets": lin.datasets,
                # trained through the parts (training.memory): the seeded sample's steps
                **({"training_data": m.resources["data"]} if m.resources.get("data") else {}),
                # tuned (training.search): the study the refitted trial came from
                **({"study": m.resources["search"]} if m.resources.get("search") else {}),
            }
        )
        return
    dirty = " (uncommitted changes)" if m.git_dirty else ""
    click.echo(f"{m.version} {m.family} [{m.status}] trained by {m.trained_by}")
    click.echo(f"  code      {m.git_commit or 'unknown'}{dirty}")
    click.echo(f"  config    {m.config_hash}")
    click.echo(f"  run       {m.flow_run}  (task {m.task_pathspec})")
    click.echo(f"  artifact  {m.artifact_uri}")
    if m.resources.get("data"):  # trained through the parts: the seeded sample it used
        d, smp = m.resources["data"], m.resources["data"]["sample"]
        rows = ", ".join(f"{k} {v}" for k, v in smp["rows"].items())
        click.echo(
            f"  rows      {d['memory']} memory; seeded sample (seed {smp['seed']}: {rows} rows) "
            f"for {', '.join(smp['used_by'])}"
        )
    if m.resources.get("search"):  # tuned: the study its settings came from
        from shared.reports.study import study_of

        click.echo(f"  search    {study_of(m).summary()}")
    km = m.key_metric
    if champ is not None:
        vs = f"{champ.version} {km} {champ.text(4)}" if champ.score is not None else champ.note
        click.echo(
            f"  holdout   {km} {m.metrics.get(km, float('nan')):.4g}; production on the same "
            f"holdout: {vs}"
        )
    for d in lin.datasets:
        click.echo(
            f"  dataset   {d.version}: {d.rows_valid:,} valid of {d.rows_in:,}, "
            f"{d.rows_quarantined:,} quarantined"
        )
        click.echo(f"    raw     {d.raw_source}  (kept at {d.raw_uri})")


def _request_json(r: RequestLineage) -> dict:
    a, d = r.answers, r.deployment
    return {
        "request_id": r.request_id,
        "received_at": str(a["received_at"].iloc[0]),
        "caller": a["caller"].iloc[0],
        "answers": [
            {"row_id": x.row_id, "prediction": x.prediction, "decision": x.decision}
            for x in a.itertuples()
        ],
        "deployment": {
            "id": d.id,
            "alias": d.alias,
            "rules_version": d.rules_version,
            "bundle_uri": d.bundle_uri,
        },
    }


def _request_header(r: RequestLineage, as_json: bool) -> None:
    if as_json:
        return
    info = _request_json(r)
    d = info["deployment"]
    click.echo(
        f"request {info['request_id']} at {info['received_at']} from {info['caller']}: "
        f"{len(info['answers'])} answer(s)"
    )
    for a in info["answers"]:
        click.echo(f"  answer    {a['row_id']}: {a['prediction']} ({a['decision']})")
    click.echo(
        f"  deployment {d['id']} ({d['alias']}), rules {d['rules_version']}, bundle {d['bundle_uri']}"
    )


def _scored_json(r: ScoredRowLineage) -> dict:
    a, d, b = r.answer, r.deployment, r.batch
    return {
        "batch": b.id,
        "input_row": r.input_row,
        "row_id": str(a.get("row_id")),
        "prediction": a.get("prediction"),
        "decision": a.get("decision"),
        "reasons": str(a.get("reasons")),
        "part": r.part,
        "raw_file": r.raw_file,
        "raw_file_row": r.raw_file_row,
        "raw_source": b.input_source,
        "scoring_run": b.flow_run,
        "deployment": {
            "id": d.id,
            "alias": d.alias,
            "rules_version": d.rules_version,
            "rules_hash": d.rules_hash,
            "bundle_uri": d.bundle_uri,
        },
    }


def _scored_header(r: ScoredRowLineage, as_json: bool) -> None:
    if as_json:
        return
    info = _scored_json(r)
    d = info["deployment"]
    click.echo(
        f"scoring batch {info['batch']} row {info['input_row']} ({info['row_id']}): "
        f"{info['prediction']} ({info['decision']}) in {info['part']}"
    )
    click.echo(f"  raw file  {info['raw_file']} row {info['raw_file_row']}")
    click.echo(
        f"  deployment {d['id']} ({d['alias']}), rules {d['rules_version']}, bundle {d['bundle_uri']}"
    )

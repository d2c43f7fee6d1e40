"""``renkei serve``, ``renkei feedback`` and ``renkei scores``: the scoring service, delayed
labels and scored answers with their intervals."""

from __future__ import annotations

import click

from shared.config.settings import ledger_url

from .main import Ctx, cli
from .output import show

# the thread-pool sizes OpenMP (XGBoost, torch), OpenBLAS and MKL read when they load
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--alias", default="production", show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes on the one port (default: one per core), each with its own "
    "alias watch and capture writer; /health reports every one of them.",
)
@click.pass_obj
def serve(obj: Ctx, host: str, port: int, alias: str, workers: int | None) -> None:
    """Serve the ALIAS bundle over HTTP: /predict, /health, /version (FastAPI + uvicorn).
    /predict and /version need `Authorization: Bearer TOKEN` (renkei tokens create); in dev
    mode (roles.yaml identity.dev_mode) a request without any token is served as anonymous.
    A promotion or rollback reaches every worker within about a second (the alias watch)
    plus the new bundle's load; a bundle that fails verification never answers.
    SIGTERM: stop accepting, finish the requests held (service.shutdown_seconds), write the
    queued capture (capture.drain_seconds), exit."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from shared.ledger import Ledger, LedgerError
    from shared.operate.supervisor import run_workers
    from shared.operate.workers import ServeSpec, default_workers

    cfg = obj.project()
    url = obj.ledger_override or ledger_url(cfg)
    try:
        Ledger.open(url)  # refused here in one line, not in every worker
    except LedgerError as e:
        raise click.ClickException(str(e)) from None
    n = workers or default_workers()
    # before any math library loads here or in a worker (they read these once)
    os.environ.update(dict.fromkeys(THREAD_VARS, str(cfg.service.threads)))
    board = tempfile.mkdtemp(prefix="renkei-serve-")
    spec = ServeSpec(os.path.abspath(obj.project_path), url, alias, n, board)
    os.environ.update(spec.environ())  # the workers read it (shared.operate.service.from_env)
    config = uvicorn.Config(
        "shared.operate.service:from_env",
        factory=True,
        host=host,
        port=port,
        workers=n,
        log_level="info",
        timeout_graceful_shutdown=cfg.service.shutdown_seconds,
        timeout_keep_alive=cfg.service.keep_alive_seconds,
        # a worker busy answering may be slow to answer the supervisor's ping
        timeout_worker_healthcheck=30,
    )
    try:
        if not run_workers(config):
            raise click.ClickException("the service did not start: see the log above")
    finally:
        shutil.rmtree(board, ignore_errors=True)


@cli.command()
@click.argument("path")
@click.option(
    "--as",
    "user",
    default=None,
    help="Dev mode only: who delivers the labels, recorded as unverified (default: you).",
)
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
            keys=obj.release_keys(),
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
    for u in out.intervals:
        click.echo(
            f"interval quantile of {u.alias} ({u.version}): {u.old_quantile:.4g} -> "
            f"{u.new_quantile:.4g} (factor {u.old_factor:.3f} -> {u.new_factor:.3f}) from "
            f"{u.labels:,} labels, {u.covered / u.labels:.1%} inside their intervals"
        )


@cli.command()
@click.option("--batch", type=int, default=None, help="Scoring batch id (default: the newest).")
@click.option("--rows", default=10, show_default=True, help="How many answers to show.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--explain",
    is_flag=True,
    help="Each answer's feature contributions, computed now from the deployed bundle.",
)
@click.pass_obj
def scores(obj: Ctx, batch: int | None, rows: int, as_json: bool, explain: bool) -> None:
    """Answers of a scoring batch with their conformal intervals (intervals.coverage);
    --explain: what drove each answer (the answering model's contributions per feature)."""
    from shared.reports import scored_with_intervals

    if explain:
        from .explain import show_explained

        show_explained(obj, batch, rows, as_json)
        return

    frame = scored_with_intervals(obj.ledger(), rows, batch)
    coverage = obj.project().intervals.coverage
    sets = "prediction_set" in frame  # multiclass: probabilities, shown to three places
    show(
        frame.to_dict("records"),
        as_json,
        lambda _: click.echo(
            f"{coverage:.0%} {'prediction sets' if sets else 'intervals'}, "
            f"batch {batch or 'newest'}:\n"
            + frame.to_string(
                index=False, float_format=lambda x: f"{x:.3f}" if sets else f"{x:.1f}"
            )
        ),
        empty="No scored answers with intervals: score a batch with a model trained with them.",
    )

"""``renkei intervals``: the adaptive intervals' updates per alias, and the replay protocol
that measures coverage without and with adaptation on a scoring batch's labels."""

from __future__ import annotations

import click

from .main import Ctx, cli
from .output import Table, show


@cli.group()
def intervals() -> None:
    """Adaptive conformal intervals (config intervals.adaptive): updates and replays."""


@intervals.command("updates")
@click.option("--alias", default=None, help="Only this alias's updates.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def updates(obj: Ctx, alias: str | None, as_json: bool) -> None:
    """Each move of an alias's interval quantile: when, the labels used, old and new."""
    items = obj.ledger().intervals.updates(alias)
    table = Table(
        ["update", "at", "alias", "version", "labels", "covered", "quantile", "factor"],
        lambda u: [
            u.id,
            f"{u.created_at:%Y-%m-%d %H:%M:%S}",
            u.alias,
            u.version,
            u.labels,
            f"{u.covered / u.labels:.1%}" if u.labels else "-",
            f"{u.old_quantile:.4g} -> {u.new_quantile:.4g}",
            f"{u.old_factor:.3f} -> {u.new_factor:.3f}",
        ],
    )
    show(items, as_json, table, empty="No interval updates yet: they follow `renkei feedback`.")


@intervals.command("replay")
@click.argument("labels_path", metavar="LABELS")
@click.option("--batch", type=int, default=None, help="Scoring batch id (default: the newest).")
@click.option("--every", default=100, show_default=True, help="Labels per delivery.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def replay(obj: Ctx, labels_path: str, batch: int | None, every: int, as_json: bool) -> None:
    """Coverage of a scoring batch's answers labelled in LABELS, replayed in arrival order
    (delivered_at), without and with adaptation after each delivery; writes nothing."""
    from shared.data.validation import RawInputError
    from shared.operate.adapt_replay import replay_batch
    from shared.operate.feedback import read_labels

    if every <= 0:
        raise click.BadParameter("must be at least 1", param_hint="--every")
    cfg = obj.project()
    try:
        r = replay_batch(
            obj.ledger(), cfg, read_labels(labels_path), every, batch, keys=obj.release_keys()
        )
    except RawInputError as e:
        raise click.ClickException(str(e)) from None
    nominal = cfg.intervals.coverage

    def text(_: object) -> None:
        click.echo(
            f"{r.labels:,} labelled answers in {r.batches} deliveries of {every}: coverage "
            f"{r.without:.1%} without adaptation, {r.with_adaptation:.1%} with "
            f"({nominal:.0%} nominal); factor after the last delivery {r.factors[-1]:.3f}"
        )

    data = {
        "labels": r.labels,
        "deliveries": r.batches,
        "every": every,
        "nominal": nominal,
        "without_adaptation": r.without,
        "with_adaptation": r.with_adaptation,
        "factors": r.factors,
    }
    show(r, as_json, text, data=data)

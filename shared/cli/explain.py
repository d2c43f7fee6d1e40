"""``renkei scores --explain``: each answer of a scoring batch with what drove it."""

from __future__ import annotations

from typing import Any

import click

from shared.guard.bundle import BundleError
from shared.ledger import LedgerError

from .main import Ctx
from .output import show

TOP = 5  # contributions printed per answer (all of them in --json)


def show_explained(obj: Ctx, batch: int | None, rows: int, as_json: bool) -> None:
    """Print the answers of ``batch`` with their explanations (see shared.reports.explained)."""
    from shared.reports.explained import explained_scores

    try:
        found = explained_scores(obj.ledger(), obj.release_keys(), rows, batch)
    except (LedgerError, BundleError, FileNotFoundError) as e:
        raise click.ClickException(str(e)) from None
    records = found.records()
    show(
        records,
        as_json,
        lambda items: click.echo(
            f"Answers of scoring batch {found.batch.id if found.batch else '?'}, explained:\n"
            + "\n".join(explained_line(r) for r in items)
        ),
        empty="No scored answers: score a batch first (python flows/score_flow.py run).",
    )


def explained_line(r: dict[str, Any]) -> str:
    """One answer and its largest contributions, e.g.
    ``o-1  41.3  model  [-]  xgboost tree_shap (delivery_minutes units): 30.9 (bias)
    +8.1 distance_km +2.0 prep_minutes ... = 41.3``."""
    answer = r.get("predicted_class") if r.get("predicted_class") is not None else r["prediction"]
    shown = f"{answer:.3g}" if isinstance(answer, float) else str(answer)
    head = f"{r['row_id']}  {shown}  {r['decision']}  [{r['reasons'] or '-'}]"
    e = r.get("explanation")
    if not e:
        return f"{head}  (no answer to explain)"
    items = list(e["contributions"].items())
    terms = " ".join(f"{v:+.3g} {k}" for k, v in items[:TOP] if v)
    rest = sum(v for _, v in items[TOP:])
    more = f" {rest:+.3g} (other features)" if len(items) > TOP and rest else ""
    what = f" for {e['explained_class']}" if e.get("explained_class") else ""
    rule = f" [{e['rule']}]" if e.get("rule") else ""
    return (
        f"{head}\n    {e['explained_by']} {e['method']}{what} ({e['scale']}){rule}: "
        f"{e['bias']:.3g} (bias) {terms}{more} = {e['raw']:.4g}"
    )

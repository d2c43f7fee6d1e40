"""``renkei monitoring`` and ``renkei costs``: check verdicts and the economics."""

from __future__ import annotations

import click

from .main import Ctx, cli
from .output import Table, jsonable, show


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--last", default=5, show_default=True, help="How many runs to show.")
@click.pass_obj
def monitoring(obj: Ctx, as_json: bool, last: int) -> None:
    """Monitoring runs: each check's value, threshold and verdict, and the retrain decision."""
    checks = Table(
        ["check", "verdict", "value", "threshold"],
        lambda c: [
            c["name"],
            c["verdict"],
            "-" if c["value"] is None else f"{c['value']:.3f}",
            f"{c['threshold']:g}",
        ],
    )

    def text(reports: list) -> None:
        for r in reports:
            decision = f"RETRAIN ({'; '.join(r.reasons)})" if r.retrain else "no retraining"
            run = f", retraining run {r.retrain_run}" if r.retrain_run else ""
            click.echo(
                f"report {r.id} on {r.version}, batches {r.batches}, {r.rows:,} rows, labels {r.label_coverage:.0%}: {decision}{run}"
            )
            click.echo(checks.render(r.checks))
            click.echo()

    show(
        obj.ledger().monitoring.reports()[-last:],
        as_json,
        text,
        empty="No monitoring runs yet: python flows/monitor_flow.py run",
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def costs(obj: Ctx, as_json: bool) -> None:
    """Fixed, variable and benefit per model version and for the project; break-even
    (the project folder's costs file)."""
    from shared.monitor.costs import economics

    econ = economics(obj.ledger(), obj.costs())
    c = econ.currency
    table = Table(
        ["version", "family", "status", f"variable {c}", f"benefit/month {c}", f"benefit {c}"],
        lambda m: [
            m.version,
            m.family,
            m.status,
            f"{m.variable_cost:,.2f}",
            f"{m.monthly_benefit:,.0f}",
            f"{m.benefit:,.0f}",
        ],
    )

    def text(per_model: list) -> None:
        click.echo(table.render(per_model))
        be = f"after {econ.break_even_at} model(s)" if econ.break_even_at else "not yet"
        click.echo(
            f"\nproject: fixed {econ.fixed:,.0f} + variable {econ.variable:,.2f} vs benefit "
            f"{econ.benefit:,.0f} {c} (net {econ.net:,.0f}); break-even {be}"
        )

    data = {
        "currency": econ.currency,
        "fixed": econ.fixed,
        "variable": econ.variable,
        "benefit": econ.benefit,
        "net": econ.net,
        "break_even_at_models": econ.break_even_at,
        "per_model": [{**jsonable(m), "benefit": m.benefit} for m in econ.per_model],
    }
    show(econ.per_model, as_json, text, data=data)

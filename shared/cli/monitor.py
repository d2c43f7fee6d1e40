"""``renkei monitoring`` and ``renkei costs``: check verdicts and the economics."""

from __future__ import annotations

import click

from .main import Ctx, cli
from .output import Table, echo_json, jsonable, show


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
    (the project folder's costs file). Only versions that served production bring benefit."""
    from shared.monitor.costs import economics, money, served_for

    econ = economics(obj.ledger(), obj.costs())
    if not econ.configured:
        if as_json:
            echo_json({"configured": False, "currency": econ.currency})
        else:
            click.echo(NO_COSTS)
        return
    c = econ.currency
    table = Table(
        ["version", "family", "status", "production", "variable", "benefit/month", "benefit"],
        lambda m: [
            m.version,
            m.family,
            m.status,
            f"served {served_for(m.months_in_production)}" if m.served else m.production,
            money(m.variable_cost, c, 2),
            money(m.monthly_benefit, c),
            money(m.benefit, c),
        ],
    )

    def text(per_model: list) -> None:
        click.echo(table.render(per_model))
        be = f"after {econ.break_even_at} model(s) that served" if econ.break_even_at else "not yet"
        click.echo(
            f"\nproject: fixed {money(econ.fixed, c)} + variable {money(econ.variable, c, 2)} vs "
            f"benefit {money(econ.benefit, c)} from {econ.served} model(s) that served "
            f"(net {money(econ.net, c)}); break-even {be}"
        )

    data = {
        "configured": True,
        "currency": econ.currency,
        "benefit_period": econ.benefit_period,
        "fixed": econ.fixed,
        "variable": econ.variable,
        "benefit": econ.benefit,
        "net": econ.net,
        "models_served": econ.served,
        "break_even_at_models": econ.break_even_at,
        "per_model": [
            {**jsonable(m), "served": m.served, "benefit": m.benefit} for m in econ.per_model
        ],
    }
    show(econ.per_model, as_json, text, data=data, empty="No model has been built yet.")


NO_COSTS = (
    "No costs are configured for this project: give fixed_monthly and benefit in its costs "
    "file (see config/costs.yaml)."
)

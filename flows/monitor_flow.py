"""Monitor: drift, prediction drift, label performance and guard rates; retrain on alert."""

import os

from metaflow import FlowSpec, Parameter, card, config_expr, current, project, step

import shared  # noqa: F401  (ships shared/ in the code package: METAFLOW_PACKAGE_POLICY)
from shared.flowkit import (
    actor,
    aws_config,
    begin_run,
    deploy_config,
    end_run,
    monitoring_card,
    open_ledger,
    production,
    project_config,
    run_context,
    started_by,
)

# Each step imports the library modules it uses (every task is a process of its own).


@production
@project(name=config_expr("project.name"))
class MonitorFlow(FlowSpec):
    """Watch the production model and trigger retraining when the verdict says so.

    Steps:
      start   - for the newest scoring batches of the production model: data drift per
                feature (PSI with bins fixed at training, KS / chi-square), prediction drift,
                performance on the labels that arrived (with coverage), guard rates against
                the holdout's; a verdict per check; a ledger record; card
      retrain - when drift, decay or guard rates pass their thresholds: start the train flow
                (locally a flow run; deployed, the train state machine), recording why; the
                new candidate still needs gates and approvals, nothing is promoted here
      end     - print the verdicts
    """

    project = project_config()
    aws = aws_config()
    deploy = deploy_config()
    window = Parameter("window", default=0, type=int, help="Scoring batches (0: from config).")
    retrain_mode = Parameter(
        "retrain",
        default="auto",
        help="auto: start the train flow (locally, or the deployed state machine when this "
        "flow runs on AWS); none: only record the decision.",
    )

    @card(type="blank")
    @step
    def start(self):
        """Run every monitoring check and record the verdict."""
        from shared.pipeline.monitor import check

        run = begin_run(self.project)
        cfg, ledger = run.cfg, run.ledger
        self.run_pathspec = run.run_pathspec
        with run_context(self.project, self.run_pathspec):
            c = check(ledger, cfg, self.window or None, self.run_pathspec, actor())
            self.result, self.report = c.result, c.report
            current.card.extend(monitoring_card(self.result, self.report))
        self.next(self.retrain)

    @step
    def retrain(self):
        """Start the train flow when the verdict asks for it (never promotes)."""
        from shared.monitor.retrain import start_production_training, start_training_run

        self.retrain_run = None
        if self.report.retrain and self.retrain_mode != "none":
            # started_by: the retraining's OpenLineage events name this run as their parent
            with run_context(self.project, self.run_pathspec), started_by(self.run_pathspec):
                if self.deploy.get("target") == "aws":  # deployed: the train state machine
                    self.retrain_run = start_production_training(self.project["name"])
                else:
                    self.retrain_run = start_training_run(
                        self.project.to_dict(), os.path.dirname(__file__)
                    )
                open_ledger(self.project).monitoring.set_retrain_run(
                    self.report.id, self.retrain_run, actor()
                )
        self.next(self.end)

    @step
    def end(self):
        """Print every check's verdict and the retraining decision."""
        end_run(self.project, self.run_pathspec)
        for c in self.result.checks:
            print(f"{c.verdict:7} {c.name:28} {c.detail}")
        if self.result.shadow is not None:  # evidence for the challenger's approval
            print(
                f"shadow  {'shadow:' + self.result.shadow.challenger:28} {self.result.shadow.summary()}"
            )
        if self.report.retrain:
            how = (
                f"started {self.retrain_run}"
                if self.retrain_run
                else "not started (--retrain none)"
            )
            print(f"RETRAIN: {'; '.join(self.report.reasons)} -> {how}")
            print("the new candidate still needs its gates and approvals: nothing was promoted")
        else:
            print("no retraining needed")


if __name__ == "__main__":
    MonitorFlow()

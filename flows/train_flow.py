"""Features, Train, Model test: candidates against the Software 1.0 baseline, gated, registered."""

from metaflow import (
    FlowSpec,
    Parameter,
    card,
    config_expr,
    current,
    project,
    resources,
    step,
)

import shared  # noqa: F401  (ships shared/ in the code package: METAFLOW_PACKAGE_POLICY)
from shared.config import set_from_flow
from shared.flowkit import (
    RenkeiFlowError,
    actor,
    aws_config,
    begin_run,
    deploy_config,
    end_run,
    open_ledger,
    production,
    project_config,
    run_context,
    share_cpus,
    training_card,
)

# Each step imports the library modules it uses: every task is a process of its own that
# imports this file, and the end step, say, needs no pandas, XGBoost or PyTorch.


def _run_key() -> str:
    """The run's key for artifact paths (a resumed run keeps its origin's)."""
    return f"{current.flow_name}/{current.origin_run_id or current.run_id}"


@production
@project(name=config_expr("project.name"))
class TrainFlow(FlowSpec):
    """Train candidate families against the rule-based baseline; gate and register them.

    Steps:
      start   - pick dataset versions from the ledger (default: the newest), join their
                labels, split by time into train / validation / holdout; learn the training
                envelope; score the production version (the champion) on the holdout; fit
                the families that need no GPU (the baseline rule) here, on a CPU
      train   - foreach family that uses a GPU (xgboost, torch_mlp): fit, score on the
                holdout and its slices, save the artifact in an open format (GPU when present)
      compare - join: run the gates (beats baseline, no worse slice, beats the champion,
                guard rate under the rules' limit; binary: a baseline that discriminates),
                register every family in the ledger (the best passing one as `candidate`),
                card with the comparison chart and gate table
      end     - print the comparison table and finish the run
    """

    project = project_config()
    aws = aws_config()
    deploy = deploy_config()
    datasets = Parameter(
        "datasets", default="", help="Comma-separated dataset versions (default: the newest)."
    )

    @step
    def start(self):
        """Record the run, load the chosen datasets with labels and split them by time."""
        from shared.data.provenance import code_version
        from shared.training import plan_search, start_training
        from shared.trust.release_key import release_keys

        run = begin_run(self.project)
        self.run_pathspec, self.code = run.run_pathspec, code_version()
        with run_context(self.project, self.run_pathspec):
            pset = set_from_flow(self.project)
            keys = release_keys(pset.roles.identity, run.cfg.storage.data_root)
            s = start_training(
                run.ledger, run.cfg, pset.rules, self.datasets, _run_key(), keys=keys
            )
            # the train tasks: each GPU family, or its search's trial groups (training.search)
            self.families = plan_search(run.cfg, s.gpu_families, s.split, _run_key())
        self.training_input, self.split, self.envelope = s.training_input, s.split, s.envelope
        self.champion = s.champion
        self.cpu_candidates, self.start_task = s.cpu_candidates, current.pathspec
        self.dataset_versions = self.training_input.dataset_versions
        print(f"training on {self.dataset_versions}: {self.split.sizes}")
        self.next(self.train, foreach="families")

    @resources(gpu=1)  # the GPU step: deployed, its cpu/memory come from config/aws.yaml
    @step
    def train(self):
        """Fit one family (or run a group of its search's trials and refit their best),
        score it on the holdout and store its artifact."""
        from shared.training import fit_unit

        share_cpus(self.deploy, len(self.families))  # the families fit side by side locally
        with run_context(self.project, self.run_pathspec):
            pset = set_from_flow(self.project)  # project.yaml and the rules it names, frozen
            self.candidate = fit_unit(
                self.input, self.split, pset.project, pset.rules, self.envelope, _run_key()
            )
        self.candidate_task = current.pathspec
        print(f"{self.input}: {self.candidate.metrics} on {self.candidate.fit.device}")
        self.next(self.compare)

    @card(type="blank")
    @step
    def compare(self, inputs):
        """Gate every candidate against the baseline and register all of them."""
        from shared.config.settings import injected_fault
        from shared.pipeline.train import register
        from shared.training import choose, comparison_frame

        pset = set_from_flow(self.project)
        cfg, rules = pset.project, pset.rules
        self.merge_artifacts(inputs, include=["run_pathspec", "code", "dataset_versions"])
        first = inputs[0]
        with run_context(self.project, self.run_pathspec):
            # one per family: a searched family's best trial group, its study summarised
            fitted, tasks = choose(
                [(c, first.start_task) for c in first.cpu_candidates]
                + [(i.candidate, i.candidate_task) for i in inputs],
                cfg,
            )
            r = register(
                open_ledger(self.project),
                cfg,
                rules,
                fitted,
                first.champion,
                self.dataset_versions,
                _run_key(),
                self.run_pathspec,
                actor(),
                self.code,
                tasks,
            )
            self.candidates, self.registered = r.candidates, r.versions
            if injected_fault() == "compare":
                raise RenkeiFlowError("fault injected after registration (RENKEI_INJECT_FAULT)")
            current.card.extend(
                training_card(self.candidates, comparison_frame(self.candidates, cfg), cfg)
            )
        self.next(self.end)

    @step
    def end(self):
        """Print the comparison and finish the run."""
        from shared.monitor.reports import comparison_table

        end_run(self.project, self.run_pathspec)
        print(comparison_table(self.registered))
        chosen = [m for m in self.registered if m.status == "candidate"]
        print(
            f"registered {chosen[0].version} ({chosen[0].family}) as candidate"
            if chosen
            else "no family passed every gate: nothing registered as candidate"
        )


if __name__ == "__main__":
    TrainFlow()

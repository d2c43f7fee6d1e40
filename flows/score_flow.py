"""Operate: batch scoring with the production bundle (guarded model), partition by partition."""

from metaflow import FlowSpec, Parameter, config_expr, current, project, step

import shared  # noqa: F401  (ships shared/ in the code package: METAFLOW_PACKAGE_POLICY)
from shared.flowkit import (
    actor,
    aws_config,
    begin_run,
    deploy_config,
    end_run,
    fault_point,
    flow_release_keys,
    open_ledger,
    peak_rss_mib,
    production,
    project_config,
    run_context,
)

# Each step imports the library modules it uses: every task is a process of its own that
# imports this file, and the end step, say, needs no pandas or XGBoost.


@production
@project(name=config_expr("project.name"))
class ScoreFlow(FlowSpec):
    """Score a raw batch with the production guarded model and record its lineage.

    Steps:
      start - find the production deployment (model version + rules), land the input byte
              for byte (a file, files, or a folder / s3:// prefix of them) and plan its
              partitions from metadata, loading no rows
      score - foreach partition: read only its rows; the guard validates every row like
              ingest, the model or the baseline answers, output rules correct; one Parquet
              part (fixed name, written atomically) with decision, reasons and input_row
      join  - the output's manifest (parts, rows, hashes, input rows) and a scoring-batch
              record with lineage and decision counts; no rows are read
      end   - print the decision counts and where the output is
    """

    project = project_config()
    aws = aws_config()
    deploy = deploy_config()
    source = Parameter(
        "source",
        default="",
        help="Input: a .csv/.parquet file, files separated by commas, or a folder or s3:// "
        "prefix of them (empty: generate).",
    )
    rows = Parameter("rows", default=5000, type=int, help="Generated rows (no --source).")
    seed = Parameter("seed", default=101, type=int, help="Generator seed (no --source).")
    drift = Parameter("drift", default=0.0, type=float, help="Generator drift, 0 to 1.")
    bad_fraction = Parameter("bad-fraction", default=0.02, type=float, help="Generated bad rows.")
    partition_rows = Parameter(
        "partition-rows",
        default=0,
        type=int,
        help="Input rows per scoring task (foreach); 0: storage.partition_rows of the project.",
    )
    alias = Parameter("alias", default="production", help="Which alias to score with.")

    @step
    def start(self):
        """Find the deployment, land the input, plan its partitions (no rows loaded)."""
        from shared.pipeline.score import plan

        run = begin_run(self.project)
        self.run_pathspec = run.run_pathspec
        with run_context(self.project, self.run_pathspec):
            p = plan(
                run.ledger,
                run.cfg,
                current.run_id,
                self.alias,
                self.source,
                self.rows,
                self.seed,
                self.bad_fraction,
                self.drift,
                self.partition_rows,
                keys=flow_release_keys(self.project),
            )
        self.deployment, self.shadow, self.raw = p.deployment, p.shadow, p.raw
        self.parts, self.out_prefix = p.parts, p.out_prefix
        self.interval_factor = p.interval_factor  # adaptive intervals (shared.operate.adapt)
        self.peak_rss_mib = peak_rss_mib()
        self.next(self.score, foreach="parts")

    @step
    def score(self):
        """Guarded answers for one partition, read from storage."""
        from shared.guard.bundle import load_deployed
        from shared.operate.adapt import with_factor
        from shared.operate.scoring import score_partition

        with run_context(self.project, self.run_pathspec):
            keys = flow_release_keys(self.project)  # roles.yaml, frozen in the package
            # verified in every task; the intervals at the alias's adapted quantile
            guarded = with_factor(load_deployed(self.deployment, keys), self.interval_factor)
            self.scored = score_partition(
                guarded, self.input, self.out_prefix, self.run_pathspec, self.shadow, keys
            )
            fault_point("score")  # reliability tests: a task killed after writing its part
        self.peak_rss_mib = peak_rss_mib()
        self.next(self.join)

    @step
    def join(self, inputs):
        """Write the output's manifest; record the scoring batch with its lineage."""
        from shared.pipeline.score import record

        self.merge_artifacts(inputs, include=["run_pathspec", "deployment", "raw", "out_prefix"])
        with run_context(self.project, self.run_pathspec):
            self.batch = record(
                open_ledger(self.project),
                self.raw,
                self.deployment,
                self.out_prefix,
                [i.scored for i in inputs],
                self.run_pathspec,
                actor(),
            )
        self.peak_rss_mib = peak_rss_mib()
        self.next(self.end)

    @step
    def end(self):
        """Print the decision counts."""
        end_run(self.project, self.run_pathspec)
        b = self.batch
        mix = ", ".join(f"{d} {n:,}" for d, n in b.decisions.items())
        print(f"scoring batch {b.id}: {b.rows:,} rows with {b.version} and rules {b.rules_version}")
        print(f"  decisions: {mix}")
        print(f"  output {b.output_uri}")


if __name__ == "__main__":
    ScoreFlow()

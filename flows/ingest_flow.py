"""Collect, Validate, Data repository: ingest one raw batch into a versioned dataset."""

from metaflow import FlowSpec, Parameter, card, config_expr, current, project, step

import shared  # noqa: F401  (ships shared/ in the code package: METAFLOW_PACKAGE_POLICY)
from shared.flowkit import (
    RenkeiFlowError,
    actor,
    aws_config,
    begin_run,
    deploy_config,
    end_run,
    fault_point,
    ingest_card,
    open_ledger,
    peak_rss_mib,
    production,
    project_config,
    run_context,
)

# Each step imports the library modules it uses: every task is a process of its own that
# imports this file, and the end step, say, needs no pandas or pandera (bench/profile_tasks.py).


@production
@project(name=config_expr("project.name"))
class IngestFlow(FlowSpec):
    """Ingest a raw batch: validate it, quarantine bad rows with reasons, version the rest.

    Steps:
      start    - land the raw input (a CSV/Parquet file, a list of files, a local folder or
                 s3:// prefix of them, or a generated batch) byte for byte under the data
                 root; plan partitions of storage.partition_rows input rows from metadata
      validate - foreach partition: read only its rows; lazy Pandera validation; split
                 valid and quarantined rows; stage both, the reasons and the ids
      join     - ids repeated across partitions quarantined (bucket by bucket); dataset
                 version; parts + manifests published; dataset, report and quarantine
                 recorded in the ledger (rows in = valid + quarantined); card
      end      - fail if the valid fraction is under the configured minimum, else finish
    """

    project = project_config()
    aws = aws_config()
    deploy = deploy_config()
    source = Parameter(
        "source",
        default="",
        help="Raw batch: a .csv/.parquet file, files separated by commas, or a folder or s3:// "
        "prefix of them (read in name order). Empty: the built-in generator.",
    )
    rows = Parameter("rows", default=0, type=int, help="Generator rows (0: from config).")
    seed = Parameter("seed", default=-1, type=int, help="Generator seed (-1: from config).")
    bad_fraction = Parameter(
        "bad-fraction", default=-1.0, type=float, help="Generator bad rows (-1: from config)."
    )
    drift = Parameter("drift", default=0.0, type=float, help="Generator drift, 0 to 1.")

    @step
    def start(self):
        """Record the run and land the raw batch byte for byte."""
        from shared.data.partvalidate import staging_prefix
        from shared.pipeline.ingest import land

        run = begin_run(self.project)
        self.run_pathspec = run.run_pathspec
        with run_context(self.project, self.run_pathspec):
            landing = land(
                run.cfg, self.source, self.rows, self.seed, self.bad_fraction, self.drift
            )
        self.raw, self.parts, self.labels_uri = landing.raw, landing.parts, landing.labels_uri
        self.staging = staging_prefix(run.cfg.storage.data_root, current.run_id)
        self.peak_rss_mib = peak_rss_mib()
        self.next(self.validate, foreach="parts")

    @step
    def validate(self):
        """Validate one partition with the Pandera contract; stage both halves."""
        from shared.config import project_from_flow
        from shared.pipeline.ingest import validate_part

        with run_context(self.project, self.run_pathspec):
            cfg = project_from_flow(self.project)
            self.part = validate_part(self.input, cfg, self.staging, len(self.parts))
        self.peak_rss_mib = peak_rss_mib()
        self.next(self.join)

    @card(type="blank")
    @step
    def join(self, inputs):
        """Duplicate ids across partitions, version, publish, record both halves."""
        from shared.config import project_from_flow
        from shared.pipeline.ingest import Landing, publish

        self.merge_artifacts(
            inputs, include=["run_pathspec", "raw", "parts", "staging", "labels_uri"]
        )
        with run_context(self.project, self.run_pathspec):
            ledger = open_ledger(self.project)
            published = publish(
                ledger,
                project_from_flow(self.project),
                Landing(self.raw, self.parts, self.labels_uri),
                [i.part for i in inputs],
                self.staging,
                actor(),
                self.run_pathspec,
                between=lambda: fault_point("validate"),  # reliability tests: kill -9 here
            )
            self.outcome, self.record = published.outcome, published.record
            current.card.extend(ingest_card(self.outcome))
        # what the end step says, worked out here: the end then loads no data-layer classes
        self.dataset_version = self.outcome.dataset_version
        self.failure, self.summary = published.failure(), published.summary(ledger.url)
        self.peak_rss_mib = peak_rss_mib()
        self.next(self.end)

    @step
    def end(self):
        """Fail below the minimum valid fraction (after recording), else finish the run."""
        with run_context(self.project, self.run_pathspec):
            if self.failure:
                raise RenkeiFlowError(self.failure)
        end_run(self.project, self.run_pathspec, dataset_version=self.dataset_version)
        print(self.summary)


if __name__ == "__main__":
    IngestFlow()

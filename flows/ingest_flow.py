"""Collect, Validate, Data repository: ingest one raw batch into a versioned dataset."""

from metaflow import FlowSpec, Parameter, card, config_expr, current, project, step

import shared  # noqa: F401  (ships shared/ in the code package: METAFLOW_PACKAGE_POLICY)
from shared.flowkit import (
    RenkeiFlowError,
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
        from shared.data.ingest import generate_raw, generator_settings, land_raw
        from shared.data.partitions import plan_batch
        from shared.data.partvalidate import staging_prefix

        run = begin_run(self.project)
        cfg = run.cfg
        self.run_pathspec = run.run_pathspec
        root = cfg.storage.data_root
        with run_context(self.project, self.run_pathspec):
            src, self.labels_uri = self.source, None
            if not src:
                g = generator_settings(cfg)
                src, self.labels_uri = generate_raw(
                    cfg,
                    root,
                    self.rows or g.rows,
                    g.seed if self.seed < 0 else self.seed,
                    g.bad_fraction if self.bad_fraction < 0 else self.bad_fraction,
                    self.drift,
                )
            self.raw = land_raw(src, root)
            self.parts = plan_batch(self.raw, cfg.storage.partition_rows)
        self.staging = staging_prefix(root, current.run_id)
        self.peak_rss_mib = peak_rss_mib()
        self.next(self.validate, foreach="parts")

    @step
    def validate(self):
        """Validate one partition with the Pandera contract; stage both halves."""
        from shared.config import project_from_flow
        from shared.data.partvalidate import validate_part

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
        from shared.data import storage
        from shared.data.partvalidate import finish_ingest

        self.merge_artifacts(
            inputs, include=["run_pathspec", "raw", "parts", "staging", "labels_uri"]
        )
        with run_context(self.project, self.run_pathspec):
            cfg = project_from_flow(self.project)
            ledger = open_ledger(self.project)
            self.outcome, reasons = finish_ingest(
                self.raw,
                self.parts,
                [i.part for i in inputs],
                cfg,
                cfg.storage.data_root,
                self.staging,
            )
            self.record = ledger.datasets.record_ingest(
                self.outcome, reasons, current.username, self.run_pathspec
            )
            fault_point("validate")  # reliability tests: kill -9, SIGTERM or a bug here
            if self.labels_uri:  # the generator also delivers the true times (delayed labels)
                ledger.datasets.record_labels(
                    self.labels_uri,
                    self.outcome.rows_in,
                    "generator",
                    current.username,
                    self.outcome.dataset_version,
                )
            current.card.extend(ingest_card(self.outcome))
            storage.remove_prefix(self.staging)
        o, created = self.outcome, self.record.dataset_created
        # what the end step says, worked out here: the end then loads no data-layer classes
        self.dataset_version = o.dataset_version
        self.failure = (
            ""
            if o.passed
            else f"{o.raw.source}: only {o.valid_fraction:.1%} of {o.rows_in:,} rows are "
            f"valid, under the minimum {o.min_valid_fraction:.1%}; report and "
            f"quarantine recorded (renkei quarantine {o.dataset_version})"
        )
        self.summary = (
            f"dataset {o.dataset_version}: {o.rows_in:,} rows in, {o.rows_valid:,} valid, "
            f"{o.rows_quarantined:,} quarantined ({'new version' if created else 'same data as an existing version'})\n"
            f"  dataset    {o.dataset_uri}\n  quarantine {o.quarantine_uri}\n"
            f"  raw copy   {o.raw.uri}\n  ledger     {ledger.url}"
        )
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

"""Small helpers the flows share. Imports Metaflow.

``configs`` (the Config declarations), ``mutator`` (the production mutator), ``run``
(begin_run, run_context: the one failing-run context manager every step body runs in,
end_run), ``openlineage`` (the runs' OpenLineage events), ``cards`` (card content).

Layer: entry points (with shared.cli). May import the pipeline (shared.pipeline), the lifecycle
and everything below them; never shared.cli.
"""

from .cards import ingest_card, monitoring_card, training_card
from .configs import aws_config, deploy_config, project_config
from .mutator import production
from .openlineage import emit_run_event, started_by
from .run import (
    RenkeiFlowError,
    RunKilled,
    RunStart,
    actor,
    begin_run,
    end_run,
    fault_point,
    flow_release_keys,
    open_ledger,
    peak_rss_mib,
    run_context,
    share_cpus,
)

__all__ = [
    "RenkeiFlowError",
    "RunKilled",
    "RunStart",
    "actor",
    "aws_config",
    "begin_run",
    "deploy_config",
    "emit_run_event",
    "end_run",
    "fault_point",
    "flow_release_keys",
    "ingest_card",
    "monitoring_card",
    "open_ledger",
    "peak_rss_mib",
    "production",
    "project_config",
    "run_context",
    "share_cpus",
    "started_by",
    "training_card",
]

"""project.yaml's settings of where and how the project runs: storage and partitions, the
scoring service's limits and token look-ups, online capture. (What the model is, and how it
is trained, gated and monitored: shared.config.project.)"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from .base import _Strict

# The fixed partition size deployed runs use: `renkei deploy aws` writes it for `auto`
# (Batch tasks are sized by aws.yaml, not by the machine that plans them).
FIXED_PARTITION_ROWS = 250_000
# storage.partition_rows: a positive number of input rows, or "auto" (local runs size their
# partitions to the machine: shared.data.partitions.partition_size)
PartitionRows = Annotated[int, Field(gt=0)] | Literal["auto"]


class StorageSettings(_Strict):
    data_root: str = "data"
    ledger_url: str = "sqlite:///data/ledger.db"
    # input rows per partition: one ingest/score task (and one part file) each; a task's
    # memory grows with it, the number of tasks shrinks with it. "auto": one task per core of
    # the machine that plans the batch (deployed runs get FIXED_PARTITION_ROWS)
    partition_rows: PartitionRows = "auto"

    @field_validator("partition_rows", mode="before")
    @classmethod
    def _rows_or_auto(cls, value: object) -> object:
        if value == "auto" or (type(value) is int and value > 0):
            return value
        raise ValueError(
            f"must be a positive number of input rows, or auto (sized to the machine's "
            f"cores), not {value!r}"
        )

    def fixed_partition_rows(self) -> int:
        """The partition size as a fixed number of rows: ``auto`` is FIXED_PARTITION_ROWS."""
        rows = self.partition_rows
        return FIXED_PARTITION_ROWS if rows == "auto" else rows


class ServiceSettings(_Strict):
    """Limits of the scoring service: larger requests get 413 before they are parsed."""

    max_body_bytes: int = Field(1_048_576, gt=0)
    max_rows: int = Field(1000, gt=0)
    # rows one /predict?explain=true may ask to explain (each costs a contribution pass;
    # bench/bench_explain.py): more get 413 with the limit
    max_explain_rows: int = Field(100, gt=0)
    # seconds the service keeps each API token's ledger look-up in memory (valid -> its name;
    # unknown or revoked -> refused): a revoked token is refused, and a new one accepted,
    # within this long; 0 asks the ledger on every request
    token_cache_seconds: float = Field(5.0, ge=0)
    # on SIGTERM a worker stops accepting at once and gives the requests it holds this long
    # to finish (uvicorn's graceful shutdown); then its capture drains (capture.drain_seconds)
    shutdown_seconds: int = Field(10, ge=0)
    # an idle keep-alive connection stays open this long: longer than the load balancer's
    # idle timeout (an ALB's is 60 s), so the balancer closes idle connections, never the
    # service under a request already on its way (that request would be reset: a 502)
    keep_alive_seconds: int = Field(75, gt=0)
    # math threads (OpenMP, BLAS, torch) in each worker and in its capture writer: the
    # workers are the parallelism; a pool per process as wide as the machine oversubscribes
    # the cores (bench_serve, 2 cores: 2 workers answered 0.55x one worker's requests/s with
    # the libraries' defaults, 1.78x with 1 thread each)
    threads: int = Field(1, gt=0)


def _default(settings: type[_Strict], name: str) -> object:
    return settings.model_fields[name].default


class CaptureSettings(_Strict):
    """Online capture (renkei serve): every answer (or a sample) written in the background to
    partitioned Parquet under <data_root>/capture/; a full queue drops and counts, never waits."""

    enabled: bool = True
    sample_rate: float = Field(1.0, ge=0.0, le=1.0)  # share of requests captured
    retention_days: int = Field(30, gt=0)  # older date partitions are deleted
    queue_rows: int = Field(20_000, gt=0)  # answers held in memory before drops begin
    batch_rows: int = Field(2_000, gt=0)  # answers per Parquet file at most
    flush_seconds: float = Field(2.0, gt=0)  # a partial batch is written after this long
    # on shutdown the writer has this long to write what is queued; what it has not written
    # by then is counted as dropped (and logged)
    drain_seconds: float = Field(20.0, gt=0)
    # a writer process that ends on its own (killed, crashed) is replaced this many times per
    # service process; what it held is counted as dropped. 0: never (later answers dropped)
    writer_restarts: int = Field(3, ge=0)


# settings that change no result, left out of the config hash at their defaults (so every
# hash stays what it was before they existed): (section, field, default)
RUNNING_ONLY = (
    ("service", "token_cache_seconds", _default(ServiceSettings, "token_cache_seconds")),
    ("service", "max_explain_rows", _default(ServiceSettings, "max_explain_rows")),
    ("service", "shutdown_seconds", _default(ServiceSettings, "shutdown_seconds")),
    ("service", "keep_alive_seconds", _default(ServiceSettings, "keep_alive_seconds")),
    ("service", "threads", _default(ServiceSettings, "threads")),
    ("capture", "drain_seconds", _default(CaptureSettings, "drain_seconds")),
    ("capture", "writer_restarts", _default(CaptureSettings, "writer_restarts")),
)

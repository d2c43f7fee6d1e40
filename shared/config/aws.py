"""aws.yaml's schema: the production (AWS) settings, read only to deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from .base import DEFAULT_AWS_PATH, _load, _Strict
from .endpoint import EndpointSettings


class S3Settings(_Strict):
    datastore_root: str = Field(pattern=r"^s3://[a-z0-9.\-]+(/.*)?$")
    data_root: str = Field(pattern=r"^s3://[a-z0-9.\-]+(/.*)?$")


class InstanceType(_Strict):
    """What one instance of a compute environment can give a job: the vCPUs and the memory
    ECS registers (MiB, less than the instance's size), and its GPUs."""

    vcpus: int = Field(gt=0)
    memory: int = Field(gt=0)
    gpus: int = Field(0, ge=0)


class StepResources(_Strict):
    """What one kind of step asks AWS Batch for, and the instance type its queue runs."""

    instance_type: str = Field(min_length=1)
    cpu: int = Field(gt=0)
    memory: int = Field(gt=0)
    gpus: int = Field(0, ge=0)


class BatchSettings(_Strict):
    cpu_queue: str = Field(min_length=1)
    gpu_queue: str = Field(min_length=1)
    image: str = Field(min_length=1)
    gpu_image: str = Field(min_length=1)
    cpu_step: StepResources
    gpu_step: StepResources
    instance_types: dict[str, InstanceType] = Field(min_length=1)

    @model_validator(mode="after")
    def _fits(self) -> BatchSettings:
        if self.cpu_step.gpus:
            raise ValueError("cpu_step.gpus must be 0: steps that need a GPU use gpu_step")
        if not self.gpu_step.gpus:
            raise ValueError("gpu_step.gpus must be at least 1")
        for kind in ("cpu_step", "gpu_step"):
            step: StepResources = getattr(self, kind)
            it = self.instance_types.get(step.instance_type)
            if it is None:
                raise ValueError(
                    f"{kind}.instance_type {step.instance_type!r} is not in instance_types "
                    f"(named: {', '.join(self.instance_types)})"
                )
            for need, have, what in (
                (step.cpu, it.vcpus, "cpu (vCPUs)"),
                (step.memory, it.memory, "memory (MiB)"),
                (step.gpus, it.gpus, "gpus"),
            ):
                if need > have:
                    raise ValueError(
                        f"{kind} asks for {what} {need:g} but a {step.instance_type} can "
                        f"allocate {have:g}: the job would stay RUNNABLE; lower it or name a "
                        "larger instance type"
                    )
        return self


class IamSettings(_Strict):
    batch_job_role: str = Field(pattern=r"^arn:aws:iam::")
    step_functions_role: str = Field(pattern=r"^arn:aws:iam::")
    eventbridge_role: str = Field(pattern=r"^arn:aws:iam::")


class LedgerSettings(_Strict):
    url: str | None = None
    secret_name: str | None = None

    @model_validator(mode="after")
    def _one(self) -> LedgerSettings:
        if not self.url and not self.secret_name:
            raise ValueError("set ledger.url or ledger.secret_name (the production ledger)")
        return self


class MetadataSettings(_Strict):
    """Metaflow's metadata service (METAFLOW_SERVICE_URL): production runs then show in
    Metaflow's client and UI. None: local metadata inside each task (runs not listable)."""

    service_url: str | None = Field(None, pattern=r"^https?://")


class OpenLineageSettings(_Strict):
    """Where deployed runs send their OpenLineage events (START, COMPLETE, FAIL): an
    OpenLineage HTTP endpoint such as Marquez's (``url`` + ``endpoint``), passed to every
    Batch task's environment as OPENLINEAGE_URL / OPENLINEAGE_ENDPOINT. None: no events."""

    url: str | None = Field(None, pattern=r"^https?://")
    endpoint: str = Field("api/v1/lineage", min_length=1)


class AnchorBucketSettings(_Strict):
    """Where production's audit anchors go: an S3 bucket with Object Lock in COMPLIANCE mode
    (nobody, the account's root included, can delete or shorten a checkpoint before its
    retention ends). `renkei deploy aws` creates it with this default retention, or checks
    an existing one (lock on, compliance mode, at least this retention)."""

    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    prefix: str = Field("renkei/audit-anchors", min_length=1)
    retain_days: int = Field(2555, ge=1)  # 7 years: each checkpoint's compliance retention


class StudySettings(_Strict):
    """Where deployed searches keep their studies (project.yaml training.search): a Secrets
    Manager secret holding the SQLAlchemy URL of their own PostgreSQL database (never the
    ledger's), which every Batch task reaches. The deploy writes ``training.search.storage:
    secretsmanager:<secret_name>`` into production's project.yaml and lets the Batch job
    role read that secret."""

    secret_name: str | None = Field(None, min_length=1)


class RetrySettings(_Strict):
    times: int = Field(2, ge=0, le=4)
    minutes_between: int = Field(2, ge=0)


class AwsConfig(_Strict):
    region: str = Field(min_length=1)
    s3: S3Settings
    batch: BatchSettings
    iam: IamSettings
    dynamodb_table: str = Field(min_length=1)
    ledger: LedgerSettings
    metadata: MetadataSettings = MetadataSettings()
    openlineage: OpenLineageSettings = OpenLineageSettings()
    # production's anchor bucket (None: roles.yaml identity.anchors decides, and a local
    # store with an S3 data root is refused by the deploy)
    anchors: AnchorBucketSettings | None = None
    # the search's studies in production (None: project.yaml's training.search.storage as
    # written, refused by the deploy when it is SQLite and a family is searched)
    search: StudySettings | None = None
    schedules: dict[str, str] = {}
    retry: RetrySettings = RetrySettings()
    timeout_minutes: int = Field(120, gt=0)
    # flows whose foreach runs as a Step Functions distributed map (step-functions create
    # --use-distributed-map): up to 10,000 parallel partition tasks instead of 40
    distributed_map: list[Literal["IngestFlow", "TrainFlow", "ScoreFlow", "MonitorFlow"]] = []
    # the scoring endpoint (renkei deploy aws --service); None: not deployed
    service: EndpointSettings | None = None


def load_aws(path: str | Path = DEFAULT_AWS_PATH) -> AwsConfig:
    """Read and validate the production (AWS) settings."""
    return _load(path, AwsConfig)

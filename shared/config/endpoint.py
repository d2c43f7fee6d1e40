"""aws.yaml's ``service:`` section: the scoring endpoint as deployed by
`renkei deploy aws --service` (ECS Fargate behind an Application Load Balancer)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from .base import _Strict

# Fargate's task sizes: CPU units -> the memory (MiB) a task of that size may have
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
# the retention periods CloudWatch Logs accepts (days)
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
FARGATE_MAX_STOP_TIMEOUT = 120  # seconds ECS waits after SIGTERM before SIGKILL, at most
# after SIGTERM uvicorn finishes the requests it holds, then the capture writer drains: the
# stop timeout must leave them project.yaml's service.shutdown_seconds and
# capture.drain_seconds, and this much for the rest (checked at deploy, shared/deploy/service.py)
SHUTDOWN_MARGIN_SECONDS = 10


class HealthCheck(_Strict):
    """The target group's check of ``/health`` (open, no token), and the container's (which
    also fails while no model is served)."""

    interval_seconds: int = Field(15, ge=5, le=300)
    timeout_seconds: int = Field(5, ge=2, le=60)
    healthy_threshold: int = Field(2, ge=2, le=10)
    unhealthy_threshold: int = Field(3, ge=2, le=10)

    @model_validator(mode="after")
    def _fits(self) -> HealthCheck:
        if self.timeout_seconds >= self.interval_seconds:
            raise ValueError("timeout_seconds must be less than interval_seconds")
        return self


class Scaling(_Strict):
    """Target tracking (Application Auto Scaling) on the service's task count: ``cpu`` keeps
    the tasks' average CPU (%) at ``target``; ``requests`` keeps the ALB requests per task
    per minute at ``target``."""

    metric: Literal["cpu", "requests"] = "cpu"
    target: float = Field(60.0, gt=0)
    scale_in_cooldown_seconds: int = Field(120, ge=0)
    scale_out_cooldown_seconds: int = Field(30, ge=0)

    @model_validator(mode="after")
    def _percent(self) -> Scaling:
        if self.metric == "cpu" and self.target > 100:
            raise ValueError(f"target {self.target:g} is a CPU percentage: at most 100")
        return self


class EndpointSettings(_Strict):
    cluster: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")
    image: str = Field(min_length=1)  # built from docker/Dockerfile.serve
    cpu: int = 1024  # Fargate CPU units
    memory: int = 2048  # MiB
    container_port: int = Field(8000, gt=0, lt=65536)
    task_role: str = Field(pattern=r"^arn:aws:iam::\d{12}:role/")
    execution_role: str = Field(pattern=r"^arn:aws:iam::\d{12}:role/")
    vpc_id: str = Field(pattern=r"^vpc-")
    subnets: list[str] = Field(min_length=2)  # an ALB needs two availability zones
    security_groups: list[str] = Field(min_length=1)  # the tasks'
    load_balancer_security_groups: list[str] = Field(min_length=1)
    internet_facing: bool = True
    certificate_arn: str = Field(pattern=r"^arn:aws:(acm|iam)::?")
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    log_group: str = Field(min_length=1)
    log_retention_days: int = 30
    desired_count: int = Field(2, ge=1)
    min_count: int = Field(2, ge=1)
    max_count: int = Field(6, ge=1)
    min_healthy_percent: int = Field(100, ge=0, le=100)
    max_percent: int = Field(200, ge=100, le=400)
    health_check: HealthCheck = HealthCheck()
    # seconds the new task has before failed health checks count (bundle and shadow loading)
    health_check_grace_seconds: int = Field(120, ge=0, le=300)
    # the ALB stops sending a stopping task requests and waits this long for those it sent
    deregistration_delay_seconds: int = Field(30, ge=5, le=3600)
    # then ECS sends SIGTERM and waits this long: uvicorn ends, the capture writer drains
    stop_timeout_seconds: int = Field(90, le=FARGATE_MAX_STOP_TIMEOUT)
    scaling: Scaling = Scaling()

    @model_validator(mode="after")
    def _consistent(self) -> EndpointSettings:
        if self.memory not in FARGATE_MEMORY.get(self.cpu, ()):
            sizes = ", ".join(str(c) for c in FARGATE_MEMORY)
            raise ValueError(
                f"cpu {self.cpu} with memory {self.memory} is no Fargate task size: cpu is one "
                f"of {sizes} and memory one that cpu allows (e.g. 1024 with 2048-8192)"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"log_retention_days {self.log_retention_days} is not a period CloudWatch "
                f"Logs keeps logs for: one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
        if not self.min_count <= self.desired_count <= self.max_count:
            raise ValueError(
                f"min_count {self.min_count} <= desired_count {self.desired_count} <= "
                f"max_count {self.max_count} does not hold"
            )
        if math.ceil(self.min_count * self.min_healthy_percent / 100) < 1:
            raise ValueError(
                f"min_healthy_percent {self.min_healthy_percent} lets a rolling deployment stop "
                f"every one of {self.min_count} tasks before new ones answer: raise it (100 "
                "keeps every task answering until its replacement is healthy)"
            )
        if self.min_healthy_percent == 100 and self.max_percent == 100:
            raise ValueError(
                "min_healthy_percent 100 with max_percent 100 leaves a rolling deployment no "
                "room to start a new task: raise max_percent (200 replaces all at once)"
            )
        return self

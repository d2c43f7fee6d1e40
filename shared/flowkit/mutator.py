"""The production mutator: when deployed to AWS, @schedule and per-step @batch, @resources, @retry,
@timeout, and @environment with the OpenLineage transport when aws.yaml names one."""

from __future__ import annotations

from typing import Any


def _production_mutator() -> Any:
    from metaflow import FlowMutator
    from metaflow.user_decorators.mutable_step import MutableStep

    class production(FlowMutator):  # noqa: N801 (used as a decorator)
        """When deployed to AWS: @schedule from config/aws.yaml and, on every step, @batch,
        @resources, @retry and @timeout. A step whose own @resources asks for a GPU is a GPU
        step (GPU queue and image, `batch.gpu_step` resources); every other step is a CPU
        step (CPU queue and image, `batch.cpu_step`). With `openlineage.url` set, every
        step's environment names that collector (the run's lineage events go there)."""

        def pre_mutate(self, mutable_flow: Any) -> None:
            from shared.config.settings import lineage_environment

            configs = dict(mutable_flow.configs)
            deploy = configs.get("deploy") or {}
            if deploy.get("target") != "aws":
                return
            aws = configs["aws"]
            cron = aws["schedules"].get(deploy.get("flow", ""))
            if cron:
                mutable_flow.add_decorator("schedule", deco_kwargs={"cron": cron})
            batch = aws["batch"]
            lineage = lineage_environment(aws.get("openlineage") or {})
            for _, step in mutable_flow.steps:
                if lineage:
                    step.add_decorator("environment", deco_kwargs={"vars": lineage})
                gpu = any(
                    int(kwargs.get("gpu") or 0)
                    for name, _fq, _args, kwargs in step.decorator_specs
                    if name == "resources"
                )
                kind = "gpu" if gpu else "cpu"
                res = batch[f"{kind}_step"]
                step.add_decorator(
                    "resources",
                    deco_kwargs={
                        "cpu": res["cpu"],
                        "memory": res["memory"],
                        **({"gpu": res["gpus"]} if gpu else {}),
                    },
                    duplicates=MutableStep.OVERRIDE,
                )
                step.add_decorator(
                    "batch",
                    deco_kwargs={
                        "queue": batch[f"{kind}_queue"],
                        "image": batch["gpu_image" if gpu else "image"],
                        "iam_role": aws["iam"]["batch_job_role"],
                    },
                )
                step.add_decorator(
                    "retry",
                    deco_kwargs={
                        "times": aws["retry"]["times"],
                        "minutes_between_retries": aws["retry"]["minutes_between"],
                    },
                )
                step.add_decorator("timeout", deco_kwargs={"minutes": aws["timeout_minutes"]})

    return production


production = _production_mutator()

"""The least-privilege IAM policies of the scoring endpoint's two roles: the task role
(what `renkei serve` does) and the execution role (what ECS does to start it)."""

from __future__ import annotations

import re
from typing import Any

from shared.config import AwsConfig, ProjectConfig
from shared.data import storage

from .iam import _policy, _s3_statements, iam_policies
from .service import endpoint

# <account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag | @digest]
_ECR = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)")


def service_policies(cfg: ProjectConfig, aws: AwsConfig) -> dict[str, dict[str, Any]]:
    """``service_task_role``: read the deployed settings and the bundles (the alias's and the
    shadow's), write and prune capture, read the ledger's secret (the alias, the API tokens
    and the deployments are in the ledger); ``service_execution_role``: pull the image and
    write the log group. Keyed like :func:`shared.deploy.iam_policies`."""
    s = endpoint(aws)
    account = s.task_role.split(":")[4]
    root = aws.s3.data_root
    read = [storage.join(root, "deploy", "settings"), storage.join(root, "bundles")]
    capture = storage.join(root, "capture")
    task = _s3_statements("Read", read, write=False)
    listing, _read_write = _s3_statements("Capture", [capture], write=True)
    task += [
        listing,
        {  # answers written; date partitions older than capture.retention_days deleted
            "Sid": "CaptureWrite",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": f"arn:aws:s3:::{capture.removeprefix('s3://')}/*",
        },
    ]
    operator = iam_policies(cfg, aws)["operator"]["policy"]["Statement"]
    task += [st for st in operator if st.get("Sid") == "LedgerSecret"]
    group = f"arn:aws:logs:{aws.region}:{account}:log-group:{s.log_group}"
    execution: list[dict[str, Any]] = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{group}:*",
        }
    ]
    if m := _ECR.match(s.image):
        execution += [
            {
                "Sid": "PullImage",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                "Resource": f"arn:aws:ecr:{m.group(2)}:{m.group(1)}:repository/{m.group(3)}",
            },
            {
                "Sid": "EcrLogin",
                "Effect": "Allow",
                "Action": ["ecr:GetAuthorizationToken"],
                "Resource": "*",  # takes no resource-level permission
            },
        ]
    return {
        "service_task_role": {"role": s.task_role, "policy": _policy(task)},
        "service_execution_role": {"role": s.execution_role, "policy": _policy(execution)},
    }

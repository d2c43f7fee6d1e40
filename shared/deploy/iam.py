"""The least-privilege IAM policy of each role the deployment uses."""

from __future__ import annotations

from typing import Any

from shared.config import AwsConfig, ProjectConfig
from shared.config.identity import IdentitySettings
from shared.paths import FLOW_FILES

from .step_functions import state_machine_arn
from .study import study_secret_statements


def _bucket_and_prefix(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def _s3_statements(sid: str, roots: list[str], write: bool) -> list[dict[str, Any]]:
    """List the buckets under the roots' prefixes; read (and write) objects under them."""
    out: list[dict[str, Any]] = []
    for i, root in enumerate(roots):
        bucket, prefix = _bucket_and_prefix(root)
        under = f"{prefix}/*" if prefix else "*"
        out.append(
            {
                "Sid": f"{sid}List{i}",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{bucket}",
                **({"Condition": {"StringLike": {"s3:prefix": [prefix, under]}}} if prefix else {}),
            }
        )
        actions = ["s3:GetObject", *(["s3:PutObject"] if write else [])]
        out.append(
            {
                "Sid": f"{sid}Objects{i}",
                "Effect": "Allow",
                "Action": actions,
                "Resource": f"arn:aws:s3:::{bucket}/{under}",
            }
        )
    return out


def _policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def secret_arn(name_or_arn: str, region: str, account: str) -> str:
    """The ARN a policy names for a secret: an ARN as given; a name with the six random
    characters Secrets Manager appends to a secret's ARN."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name_or_arn}-??????"


def ledger_key_statements(
    identity: IdentitySettings | None, region: str, account: str
) -> list[dict[str, Any]]:
    """Reading the ledger key's secret (roles.yaml identity.ledger_key.secret), for the Batch
    job role alone: tasks sign anchors with it; nobody else is granted it."""
    lk = identity.ledger_key if identity else None
    if lk is None or not lk.secret:
        return []
    return [
        {
            "Sid": "LedgerKeySecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": secret_arn(lk.secret, lk.region or region, account),
        }
    ]


def anchor_statements(identity: IdentitySettings | None, aws: AwsConfig) -> list[dict[str, Any]]:
    """Appending checkpoints to the Object Lock anchor bucket (aws.yaml ``anchors``) and
    reading every locked version back (`renkei audit verify`): for the job role (its tasks
    anchor with the ledger key) and an operator (a member anchors their own decisions with
    their key). Never a delete, nor bypassing a retention."""
    from .anchor_bucket import production_anchors

    a = production_anchors(identity or IdentitySettings(), aws)
    if a is None:
        return []
    prefix = a.prefix.strip("/")
    return [
        {
            "Sid": "AnchorList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": f"arn:aws:s3:::{a.bucket}",
            "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
        },
        {
            "Sid": "AnchorAppend",
            "Effect": "Allow",
            "Action": [
                "s3:PutObject",
                "s3:PutObjectRetention",
                "s3:GetObject",
                "s3:GetObjectVersion",
            ],
            "Resource": f"arn:aws:s3:::{a.bucket}/{prefix}/*",
        },
    ]


def release_key_statements(
    identity: IdentitySettings | None, region: str, account: str
) -> list[dict[str, Any]]:
    """Reading the release key's secret (roles.yaml identity.release_key.secret), for the
    operator alone: promotions and shadow attaches sign bundles with it; every load verifies
    with the public half pinned in roles.yaml, so no task or service is granted it."""
    rk = identity.release_key if identity else None
    if rk is None or not rk.secret:
        return []
    return [
        {
            "Sid": "ReleaseKeySecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": secret_arn(rk.secret, rk.region or region, account),
        }
    ]


def iam_policies(
    cfg: ProjectConfig, aws: AwsConfig, identity: IdentitySettings | None = None
) -> dict[str, dict[str, Any]]:
    """The least-privilege policy each role needs, from the settings: the Batch job role
    (tasks: both S3 roots, the ledger secret, the ledger key's secret (``identity``: roles.yaml
    identity) and no other role, the search studies' secret when a family is searched,
    foreach bookkeeping, starting retraining),
    the Step Functions role (submit and watch Batch jobs), the EventBridge role (start the
    scheduled state machines) and an operator (promote, approve, the app: the data root and
    the ledger secret, not the ledger key). Both the job role and an operator append to the
    anchor bucket (:func:`anchor_statements`). Keyed by role; each ``{"role": ARN or None, "policy": document}``."""
    account = aws.iam.batch_job_role.split(":")[4]
    region = aws.region
    table = f"arn:aws:dynamodb:{region}:{account}:table/{aws.dynamodb_table}"
    machines = [state_machine_arn(aws, cfg.name, f) for f in FLOW_FILES]
    secret: list[dict[str, Any]] = []
    if aws.ledger.secret_name and not aws.ledger.url:
        secret = [
            {
                "Sid": "LedgerSecret",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                # Secrets Manager appends six random characters to a secret's ARN
                "Resource": f"arn:aws:secretsmanager:{region}:{account}:secret:"
                f"{aws.ledger.secret_name}-??????",
            }
        ]
    batch_job = _s3_statements("Data", [aws.s3.datastore_root, aws.s3.data_root], write=True)
    anchors = anchor_statements(identity, aws)
    batch_job += secret + ledger_key_statements(identity, region, account) + anchors
    batch_job += study_secret_statements(cfg, aws, region, account)
    batch_job += [
        {
            "Sid": "ForeachBookkeeping",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Resource": table,
        },
        {  # the monitor flow finds and starts the train state machine (retraining)
            "Sid": "FindTrainStateMachine",
            "Effect": "Allow",
            "Action": ["states:ListStateMachines"],
            "Resource": "*",  # List* takes no resource-level permission
        },
        {
            "Sid": "StartRetraining",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": state_machine_arn(aws, cfg.name, "TrainFlow"),
        },
    ]
    queues = [
        f"arn:aws:batch:{region}:{account}:job-queue/{q}"
        for q in (aws.batch.cpu_queue, aws.batch.gpu_queue)
    ]
    step_functions = [
        {
            "Sid": "SubmitBatchJobs",
            "Effect": "Allow",
            "Action": ["batch:SubmitJob"],
            "Resource": [*queues, f"arn:aws:batch:{region}:{account}:job-definition/*"],
        },
        {
            "Sid": "WatchBatchJobs",
            "Effect": "Allow",
            "Action": ["batch:DescribeJobs", "batch:TerminateJob"],
            "Resource": "*",  # job ids are not known in advance
        },
        {  # the .sync integration listens for Batch job events through this rule
            "Sid": "BatchJobEvents",
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": f"arn:aws:events:{region}:{account}:rule/"
            "StepFunctionsGetEventsForBatchJobsRule",
        },
        {
            "Sid": "ForeachBookkeeping",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": table,
        },
    ]
    if aws.distributed_map:  # child executions of a distributed map, and its result files
        step_functions += _distributed_map_statements(aws, cfg.name, region, account)
    eventbridge = [
        {
            "Sid": "StartScheduledRuns",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": machines,
        }
    ]
    operator = _s3_statements("Data", [aws.s3.data_root], write=True) + secret + anchors
    operator += release_key_statements(identity, region, account)
    return {
        "batch_job_role": {"role": aws.iam.batch_job_role, "policy": _policy(batch_job)},
        "step_functions_role": {
            "role": aws.iam.step_functions_role,
            "policy": _policy(step_functions),
        },
        "eventbridge_role": {"role": aws.iam.eventbridge_role, "policy": _policy(eventbridge)},
        "operator": {"role": None, "policy": _policy(operator)},
    }


def _distributed_map_statements(
    aws: AwsConfig, project: str, region: str, account: str
) -> list[dict[str, Any]]:
    """What Step Functions needs to run a distributed map: start and watch the child
    executions of the flows deployed with one, and write/read its result files on S3."""
    machines = [state_machine_arn(aws, project, f) for f in aws.distributed_map]
    executions = [m.replace(":stateMachine:", ":execution:") + ":*" for m in machines]
    return [
        {
            "Sid": "DistributedMapChildren",
            "Effect": "Allow",
            "Action": ["states:StartExecution", "states:DescribeExecution", "states:StopExecution"],
            "Resource": machines + executions,
        },
        *_s3_statements("DistributedMapResults", [aws.s3.datastore_root], write=True),
    ]

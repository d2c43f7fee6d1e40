"""Production on AWS: deploy the flows to Step Functions with `step-functions create`.

`renkei deploy aws` first writes the production settings folder (``deploy/production/``:
project.yaml with the S3 data root and the production ledger's source, and copies of the
rules, roles, costs and aws files), which operators then use for promote, approve and the
app. It freezes, per flow, that project config, the aws settings and a `deploy` config
(target aws) into the code package; the flows' ``@production`` mutator then adds
``@schedule``, ``@batch`` and ``@resources`` (GPU queue for GPU steps), ``@retry`` and
``@timeout``. Metaflow's own settings come as ``METAFLOW_*`` variables built here from
the aws settings. :func:`iam_policies` drafts the least-privilege policy of each role.

``settings`` writes the production settings folder, ``step_functions`` deploys one flow,
``iam`` drafts the policies, ``checks`` says what a deployment refuses; ``service`` (with
``service_aws`` and ``service_iam``) deploys the scoring endpoint on ECS Fargate behind an ALB.

Layer: lifecycle, bottom (beside shared.training, which it does not import). May import
config and shared.paths.
"""

from .checks import production_refusals
from .iam import iam_policies
from .service import ServiceResult, deploy_service, fetch_settings
from .service_iam import service_policies
from .settings import (
    SETTINGS_FILES,
    DeployError,
    freeze_yaml,
    frozen_yaml,
    production_project,
    write_production_settings,
)
from .step_functions import DeployResult, deploy_flow, metaflow_env, state_machine_arn

__all__ = [
    "DeployError",
    "DeployResult",
    "SETTINGS_FILES",
    "ServiceResult",
    "deploy_flow",
    "deploy_service",
    "fetch_settings",
    "freeze_yaml",
    "frozen_yaml",
    "iam_policies",
    "metaflow_env",
    "production_refusals",
    "production_project",
    "service_policies",
    "state_machine_arn",
    "write_production_settings",
]

"""The search's studies in production (project.yaml ``training.search``, issue 28): every
trial task of a deployed train flow runs on its own AWS Batch machine, so the studies must
live in a database they all reach, its URL in a Secrets Manager secret (aws.yaml
``search.secret_name``) the Batch job role may read. A SQLite file (``storage: auto`` or a
``sqlite://`` URL) sits on one task's disk, out of the others' reach: the deploy refuses it."""

from __future__ import annotations

from typing import Any

from shared.config import AwsConfig, ProjectConfig, ProjectSet

SECRET = "secretsmanager:"


def searched(cfg: ProjectConfig) -> bool:
    """Whether a trained family has a search (training.search has a section for it)."""
    s = cfg.training.search
    return any(s.family(f) is not None for f in cfg.training.families)


def production_storage(cfg: ProjectConfig, aws: AwsConfig) -> str:
    """``training.search.storage`` as deployed: ``secretsmanager:<search.secret_name>`` when
    the aws settings name the studies' secret and a family is searched; else as written."""
    name = aws.search.secret_name if aws.search else None
    if name and searched(cfg):
        return f"{SECRET}{name}"
    return cfg.training.search.storage


def study_storage_refusal(pset: ProjectSet, aws: AwsConfig, aws_path: str) -> str | None:
    """Why a deployed search could not keep its studies (one line), or None."""
    cfg = pset.project
    if not searched(cfg):
        return None
    storage = production_storage(cfg, aws)
    name = aws.search.secret_name if aws.search else None
    if name and aws.ledger.secret_name == name and not aws.ledger.url:
        return (
            f"{aws_path}: search.secret_name {name!r} is the ledger's secret: the studies need a "
            "database of their own (Optuna and the ledger both keep Alembic's alembic_version)"
        )
    if storage == "auto" or storage.startswith("sqlite"):
        return (
            f"{pset.sources['project']}: training.search.storage is {storage!r}, a SQLite file "
            "on one Batch task's disk that the other trial tasks cannot reach: set "
            f"search.secret_name in {aws_path} (a Secrets Manager secret holding the studies' "
            "own PostgreSQL URL) or training.search.storage to secretsmanager:NAME"
        )
    return None


def study_plan_line(cfg: ProjectConfig, aws: AwsConfig) -> str | None:
    """What the deploy writes for the studies (the dry run prints it), or None."""
    if not searched(cfg):
        return None
    storage = production_storage(cfg, aws)
    if not storage.startswith(SECRET):
        return f"project.yaml training.search.storage: as written ({_shown(storage)})"
    return (
        f"project.yaml training.search.storage: {storage} (the studies' own database; the "
        f"Batch job role may read that secret)"
    )


def study_secret_statements(
    cfg: ProjectConfig, aws: AwsConfig, region: str, account: str
) -> list[dict[str, Any]]:
    """Reading the studies' secret, for the Batch job role alone (its trial tasks open the
    study; lineage keeps the summary operators read), when a deployed family is searched."""
    from .iam import secret_arn

    storage = production_storage(cfg, aws)
    if not searched(cfg) or not storage.startswith(SECRET):
        return []
    return [
        {
            "Sid": "StudySecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": secret_arn(storage.removeprefix(SECRET), region, account),
        }
    ]


def _shown(url: str) -> str:
    if "://" not in url:
        return url
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

"""The production settings folder operators use: project.yaml as deployed and copies of the files it names."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from shared.config import AwsConfig, ProjectConfig, ProjectSet
from shared.config.errors import RenkeiError


class DeployError(RenkeiError, RuntimeError):
    """A deployment failed; the message says which flow and why."""


def freeze_yaml(data: Mapping[str, Any], path: Path) -> Path:
    """Write settings to ``path`` exactly as declared: key order kept (``yaml.safe_dump``
    sorts keys by default, which reorders the features a model is trained on)."""
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True))
    return path


@contextmanager
def frozen_yaml(data: Mapping[str, Any]) -> Iterator[str]:
    """A temporary YAML file holding ``data`` as declared (see :func:`freeze_yaml`)."""
    with tempfile.TemporaryDirectory(prefix="renkei-config-") as tmp:
        yield str(freeze_yaml(data, Path(tmp) / "project.yaml"))


SETTINGS_FILES = ("rules", "roles", "costs", "aws")


def write_production_settings(out: Path, pset: ProjectSet, aws_path: str | Path) -> Path:
    """The production project folder operators use (``renkei --project OUT``): project.yaml
    with the S3 data root and the production ledger's source, and a copy of the project's
    rules, roles and costs files and of the aws settings as ``NAME.yaml`` beside it."""
    from shared.config import load_aws

    if "roles" in pset.defaults:
        raise DeployError(no_roles_file(pset))
    sources = {**{k: pset.sources[k] for k in ("rules", "roles", "costs")}, "aws": aws_path}
    out.mkdir(parents=True, exist_ok=True)
    for name in SETTINGS_FILES:
        if name in pset.defaults:  # the default the project runs with, written out
            default = getattr(pset, name).model_dump(mode="json")
            (out / f"{name}.yaml").write_text(yaml.safe_dump(default, sort_keys=False))
            continue
        src = Path(sources[name])
        if not src.is_file():
            raise DeployError(f"{src}: {name} file not found")
        if src.resolve() != (out / f"{name}.yaml").resolve():
            shutil.copyfile(src, out / f"{name}.yaml")
    aws = load_aws(out / "aws.yaml")
    return freeze_yaml(production_project(pset.project, aws), out / "project.yaml")


def no_roles_file(pset: ProjectSet) -> str:
    """Why a project without a roles file is not deployed (one line)."""
    folder = Path(pset.sources["project"]).parent
    return (
        f"{folder}: no roles file, so the demo team stands in (dev mode: anyone may act as "
        "anyone): production needs the team's own roles.yaml beside project.yaml (members, "
        "approval policy, logins and public keys; README, Who can do what)"
    )


def production_project(cfg: ProjectConfig, aws: AwsConfig) -> dict:
    """The project config as deployed: data on S3, the production ledger, a fixed partition
    size (``auto`` sizes to the machine that plans a batch, which on AWS Batch is not the
    machine that runs its tasks: it becomes FIXED_PARTITION_ROWS; a number stays), and the
    files of the production settings folder (rules, roles, costs and aws beside it)."""
    data = cfg.model_dump(mode="json")
    ledger = aws.ledger.url or f"secretsmanager:{aws.ledger.secret_name}"
    data["storage"] = {
        **data["storage"],
        "data_root": aws.s3.data_root,
        "ledger_url": ledger,
        "partition_rows": cfg.storage.fixed_partition_rows(),
    }
    data["files"] = {name: f"{name}.yaml" for name in SETTINGS_FILES}
    return data

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
from shared.config.identity import IdentitySettings


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


def write_production_settings(
    out: Path, pset: ProjectSet, aws_path: str | Path, test_account: bool = False
) -> Path:
    """The production project folder operators use (``renkei --project OUT``): project.yaml
    with the S3 data root and the production ledger's source, a copy of the project's rules
    and costs files and of the aws settings as ``NAME.yaml`` beside it, and roles.yaml with
    production's identity (:func:`production_identity`: dev mode off, provider aws, anchors
    in the Object Lock bucket)."""
    from shared.config import load_aws

    if "roles" in pset.defaults:
        raise DeployError(no_roles_file(pset))
    sources = {**{k: pset.sources[k] for k in ("rules", "roles", "costs")}, "aws": aws_path}
    out.mkdir(parents=True, exist_ok=True)
    aws = load_aws(aws_path)
    for name in SETTINGS_FILES:
        if name in pset.defaults:  # the default the project runs with, written out
            default = getattr(pset, name).model_dump(mode="json")
            (out / f"{name}.yaml").write_text(yaml.safe_dump(default, sort_keys=False))
            continue
        src = Path(sources[name])
        if not src.is_file():
            raise DeployError(f"{src}: {name} file not found")
        if name == "roles":
            roles = yaml.safe_load(src.read_text()) or {}
            ident = production_identity(pset.roles.identity, aws, test_account)
            roles["identity"] = {**(roles.get("identity") or {}), **ident}
            written = freeze_yaml(roles, out / "roles.yaml")
            written.write_text(
                f"# {src} as production runs it, written by `renkei deploy aws`: identity "
                "dev_mode, provider and anchors set by the deploy (edit the source, not this)\n"
                + written.read_text()
            )
        elif src.resolve() != (out / f"{name}.yaml").resolve():
            shutil.copyfile(src, out / f"{name}.yaml")
    return freeze_yaml(production_project(pset.project, aws), out / "project.yaml")


def production_identity(
    ident: IdentitySettings, aws: AwsConfig, test_account: bool = False
) -> dict[str, Any]:
    """roles.yaml's identity as production runs it: dev mode off (a test account keeps the
    project's, so that `--as` still works there), who acts known from AWS STS (provider
    aws), and anchors in the Object Lock bucket (aws.yaml ``anchors``)."""
    from .anchor_bucket import production_anchors

    out: dict[str, Any] = {
        "dev_mode": ident.dev_mode if test_account else False,
        "provider": "aws",
    }
    anchors = production_anchors(ident, aws)
    if anchors is not None:
        out["anchors"] = anchors.model_dump(mode="json", exclude_none=True)
    return out


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
    machine that runs its tasks: it becomes FIXED_PARTITION_ROWS; a number stays), a
    search's studies in their own database (aws.yaml ``search.secret_name``), and the
    files of the production settings folder (rules, roles, costs and aws beside it)."""
    data = cfg.model_dump(mode="json")
    ledger = aws.ledger.url or f"secretsmanager:{aws.ledger.secret_name}"
    data["storage"] = {
        **data["storage"],
        "data_root": aws.s3.data_root,
        "ledger_url": ledger,
        "partition_rows": cfg.storage.fixed_partition_rows(),
    }
    from .study import production_storage

    data["training"]["search"]["storage"] = production_storage(cfg, aws)
    data["files"] = {name: f"{name}.yaml" for name in SETTINGS_FILES}
    return data

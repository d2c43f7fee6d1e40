"""What `renkei deploy aws` refuses: settings that would leave production unanchored,
unsigned, or open to anyone (issue 25). Each refusal is one line naming the setting and the
file; a dry run prints them; ``--test-account`` deploys anyway (they become warnings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.config import AwsConfig, ProjectSet
from shared.config.identity import AnchorSettings

from .anchor_bucket import (
    BucketCheck,
    check_anchor_bucket,
    create_anchor_bucket,
    production_anchors,
)
from .study import study_plan_line, study_storage_refusal


def production_refusals(pset: ProjectSet, aws: AwsConfig) -> list[str]:
    """Why these settings must not run production (empty: they may)."""
    roles = pset.roles
    ident = roles.identity
    src = pset.sources["roles"]
    out = []
    if ident.dev_mode:
        out.append(
            f"{src}: identity.dev_mode is on, so production would accept `--as NAME` from "
            "anyone: set dev_mode: false with each member's logins and public_keys (README, "
            "Who can do what)"
        )
    if production_anchors(ident, aws) is None and "://" in aws.s3.data_root:
        out.append(
            f"{src}: identity.anchors.store is local, but production's data root is "
            f"{aws.s3.data_root}: no task can keep an anchor file there, so production would "
            "be unanchored; set anchors: {bucket: B, retain_days: N} in the aws settings "
            "(the deploy creates B with Object Lock)"
        )
    for role in roles.approval.required_roles:
        members = roles.members.get(role, [])
        if not any(m in ident.public_keys for m in members):
            out.append(
                f"{src}: approval.required_roles names {role!r}, but no member of it "
                f"({', '.join(members) or 'none'}) has a key in identity.public_keys, so its "
                "approvals could not be verified: run `renkei keys init` as one of them and "
                "list `renkei keys show`"
            )
    if not ident.ledger_key or not ident.ledger_key.public:
        out.append(
            f"{src}: identity.ledger_key is not set, so nothing pins the key that signs "
            "production's anchors: run `renkei keys init --ledger` and list `renkei keys show "
            "--ledger` there"
        )
    if not ident.release_key or not ident.release_key.public:
        out.append(
            f"{src}: identity.release_key is not set, so no load could verify a served "
            "bundle's signature: run `renkei keys init --release` and list `renkei keys show "
            "--release` there"
        )
    return out


@dataclass(frozen=True)
class ProductionPlan:
    """What `renkei deploy aws` will write and create, and what it refuses."""

    refusals: list[str]
    writes: list[str] = field(default_factory=list)
    # settings production could not run with at all: refused for a test account too
    unworkable: list[str] = field(default_factory=list)
    anchors: AnchorSettings | None = None
    bucket: BucketCheck | None = None


def production_plan(
    pset: ProjectSet, aws: AwsConfig, aws_path: str | Path, test_account: bool, s3: Any = None
) -> ProductionPlan:
    """The refusals of the settings (:func:`production_refusals`) and of the anchor bucket
    (looked at, read-only, with ``s3`` or a client for aws.region), what production could
    not run at all (a search's studies out of its tasks' reach), and the lines saying what
    the deploy writes: roles.yaml's production identity, the bucket, the studies' storage."""
    from .settings import production_identity

    refusals = production_refusals(pset, aws)
    ident = production_identity(pset.roles.identity, aws, test_account)
    anchors = production_anchors(pset.roles.identity, aws)
    where = f"s3://{anchors.bucket}/{anchors.prefix}" if anchors else "unchanged (local)"
    writes = [
        f"roles.yaml identity.dev_mode: {str(ident['dev_mode']).lower()}, identity.provider: "
        f"aws (who acts: the STS caller, matched to identity.logins), identity.anchors: {where}"
    ]
    bucket = None
    if anchors is not None:
        import boto3

        file, key = (
            (str(aws_path), "anchors")
            if aws.anchors
            else (pset.sources["roles"], "identity.anchors")
        )
        bucket = check_anchor_bucket(
            s3 or boto3.client("s3", region_name=aws.region), anchors, file, key
        )
        if bucket.refusal:
            refusals.append(bucket.refusal)
        else:
            writes.append(bucket.plan())
    study = study_storage_refusal(pset, aws, str(aws_path))
    if (line := study_plan_line(pset.project, aws)) and not study:
        writes.append(line)
    return ProductionPlan(refusals, writes, [study] if study else [], anchors, bucket)


def apply_plan(plan: ProductionPlan, aws: AwsConfig, s3: Any = None) -> None:
    """Create the anchor bucket when the plan found none (a failure: one line)."""
    if plan.anchors is None or plan.bucket is None or plan.bucket.exists:
        return
    import boto3

    from .settings import DeployError

    try:
        client = s3 or boto3.client("s3", region_name=aws.region)
        create_anchor_bucket(client, plan.anchors, aws.region)
    except Exception as e:
        raise DeployError(
            f"cannot create the anchor bucket {plan.anchors.bucket!r} with Object Lock: {e}"
        ) from None

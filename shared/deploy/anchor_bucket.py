"""Production's anchor bucket: where the audit chain's signed checkpoints go, in S3 with
Object Lock in COMPLIANCE mode (issue 25). `renkei deploy aws` creates it (lock on, the
default retention of aws.yaml ``anchors.retain_days``) or checks an existing one; a bucket
without Object Lock, in GOVERNANCE mode (lifted by anyone allowed
s3:BypassGovernanceRetention) or with a shorter retention is refused in one line naming
the setting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.config import AwsConfig
from shared.config.identity import AnchorSettings, IdentitySettings

LOCK_MODE = "COMPLIANCE"


def production_anchors(ident: IdentitySettings, aws: AwsConfig) -> AnchorSettings | None:
    """Where production anchors: aws.yaml ``anchors`` (bucket, prefix, retention), else an
    S3 store named in roles.yaml; None when neither (refused with an S3 data root)."""
    if aws.anchors is not None:
        a = aws.anchors
        return AnchorSettings(
            store="s3",
            every=ident.anchors.every,
            bucket=a.bucket,
            prefix=a.prefix,
            retain_days=a.retain_days,
            region=aws.region,
        )
    if ident.anchors.store == "s3":
        return ident.anchors.model_copy(update={"region": ident.anchors.region or aws.region})
    return None


@dataclass(frozen=True)
class BucketCheck:
    """What the deploy found: the bucket exists (and why it is refused, if it is)."""

    bucket: str
    retain_days: int
    exists: bool
    refusal: str | None = None

    def plan(self) -> str:
        """One line: what the deploy does (or would do) with the bucket."""
        if self.exists:
            return (
                f"anchor bucket s3://{self.bucket}: exists, Object Lock {LOCK_MODE}, "
                f"retention >= {self.retain_days} days"
            )
        return (
            f"anchor bucket s3://{self.bucket}: created with Object Lock {LOCK_MODE}, "
            f"default retention {self.retain_days} days"
        )


def _code(e: Exception) -> str:
    return str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))


def _days(retention: dict[str, Any]) -> int:
    """A default retention rule in days (a rule is set in days or in years)."""
    return int(retention.get("Days") or 0) or 365 * int(retention.get("Years") or 0)


def check_anchor_bucket(s3: Any, anchors: AnchorSettings, file: str, key: str) -> BucketCheck:
    """Look at the bucket (read-only). ``file`` and ``key`` (e.g. aws.yaml, ``anchors``)
    name the settings, for the refusal's one line."""
    bucket, days = str(anchors.bucket), anchors.retain_days
    where = f"{file}: {key}.bucket {bucket!r}"
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as e:
        if _code(e) in ("404", "NoSuchBucket", "NotFound"):
            return BucketCheck(bucket, days, exists=False)
        return BucketCheck(bucket, days, True, f"{where}: cannot read the bucket: {e}")
    try:
        cfg = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except Exception as e:
        if _code(e) != "ObjectLockConfigurationNotFoundError":
            return BucketCheck(bucket, days, True, f"{where}: cannot read its Object Lock: {e}")
        cfg = {}
    fix = f"name a new bucket in {key}.bucket (the deploy creates it locked)"
    if cfg.get("ObjectLockEnabled") != "Enabled":
        why = (
            f"{where} exists without Object Lock, so whoever holds the account could "
            f"delete the anchors: {fix}"
        )
        return BucketCheck(bucket, days, True, why)
    rule = cfg.get("Rule", {}).get("DefaultRetention")
    if not rule:
        why = (
            f"{where} has Object Lock but no default retention: "
            f"set it to {LOCK_MODE}, {days} days (aws s3api put-object-lock-configuration), "
            f"or {fix}"
        )
        return BucketCheck(bucket, days, True, why)
    if rule.get("Mode") != LOCK_MODE:
        why = (
            f"{where} locks in {rule.get('Mode')} mode (its default retention), which "
            f"anyone allowed s3:BypassGovernanceRetention can lift: production needs "
            f"{LOCK_MODE} mode; {fix}"
        )
        return BucketCheck(bucket, days, True, why)
    if _days(rule) < days:
        why = (
            f"{where} retains objects {_days(rule)} days by default, less than "
            f"{key}.retain_days {days}: lower {key}.retain_days or {fix}"
        )
        return BucketCheck(bucket, days, True, why)
    return BucketCheck(bucket, days, exists=True)


def create_anchor_bucket(s3: Any, anchors: AnchorSettings, region: str) -> None:
    """Create the bucket with Object Lock on (which turns versioning on) and its default
    retention in COMPLIANCE mode."""
    bucket = str(anchors.bucket)
    kw: dict[str, Any] = {"Bucket": bucket, "ObjectLockEnabledForBucket": True}
    if region != "us-east-1":  # us-east-1 takes no location constraint
        kw["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kw)
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": LOCK_MODE, "Days": anchors.retain_days}},
        },
    )

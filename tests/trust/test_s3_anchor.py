"""The production anchor store: S3 with Object Lock in compliance mode (a moto server)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.builders import Trained
from tests.trust.conftest import renkei, set_identity
from tests.trust.test_audit_verify import _rewrite_chain

pytestmark = pytest.mark.slow


def test_s3_object_lock_anchors_refuse_deletion_and_catch_a_rewrite(
    trained: Trained, moto_server: str
) -> None:
    t = trained
    [v] = t.candidates
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="renkei-anchors", ObjectLockEnabledForBucket=True)
    set_identity(t, anchors={"store": "s3", "bucket": "renkei-anchors", "retain_days": 30})
    for who in ("kenji", "yui"):
        out = renkei(t, "approve", v, "--as", who, "--comment", "ok")
        assert out.exit_code == 0, out.output
    versions = s3.list_object_versions(Bucket="renkei-anchors")["Versions"]
    assert len(versions) == 2
    head = s3.head_object(
        Bucket="renkei-anchors", Key=versions[0]["Key"], VersionId=versions[0]["VersionId"]
    )
    assert head["ObjectLockMode"] == "COMPLIANCE"
    for obj in versions:  # nobody may delete a locked checkpoint version
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket="renkei-anchors", Key=obj["Key"], VersionId=obj["VersionId"])
        assert e.value.response["Error"]["Code"] == "AccessDenied"
        s3.delete_object(Bucket="renkei-anchors", Key=obj["Key"])  # only hides it (a marker)
    ok = renkei(t, "audit", "verify")
    assert ok.exit_code == 0 and "anchored up to entry" in ok.output, ok.output
    _rewrite_chain(t.ledger.engine.url.database, 1, "somebody-else")
    bad = renkei(t, "audit", "verify")
    assert bad.exit_code == 1 and "was rewritten, deleted or reordered" in bad.output, bad.output

"""A key kept in an AWS Secrets Manager secret: its ``AWSCURRENT`` version is the key in use,
a rotation stages the next one as ``AWSPENDING`` and then moves ``AWSCURRENT`` to it (the old
version keeps ``AWSPREVIOUS``). One home for what the ledger key and the release key share
(shared.trust.ledger_keys, shared.trust.release_key); each says how its key is written."""

from __future__ import annotations

from typing import Any

from shared.trust.keys import KeyError_

PENDING, CURRENT = "AWSPENDING", "AWSCURRENT"


class SecretKey:
    """A key's text in a secret (name or ARN); ``what`` names the key in messages and
    ``setting`` the roles.yaml setting that names the secret."""

    what = "key"
    setting = "identity"
    description = "Renkei: a key"

    def __init__(self, secret: str, region: str | None = None, client: Any = None) -> None:
        import boto3

        self.secret = secret
        if region is None and secret.startswith("arn:"):
            region = secret.split(":")[3]
        self.client = client or boto3.client("secretsmanager", region_name=region)

    def text(self, stage: str) -> str | None:
        """The secret's text at ``stage``; None if there is no such secret or version."""
        try:
            value = self.client.get_secret_value(SecretId=self.secret, VersionStage=stage)
        except self.client.exceptions.ResourceNotFoundException:
            return None
        except Exception as e:  # denied, unreachable, no credentials
            raise KeyError_(f"cannot read the {self.what} from {self.describe()}: {e}") from None
        return value.get("SecretString", "")

    def create_text(self, text: str) -> None:
        """Create the secret holding ``text`` (by name only: an ARN names a secret that
        must exist already)."""
        if self.secret.startswith("arn:"):
            raise KeyError_(
                f"no secret {self.secret}: a secret is created by name; set {self.setting} "
                "to a name, or create the secret first"
            )
        self.client.create_secret(Name=self.secret, Description=self.description, SecretString=text)

    def stage_text(self, text: str) -> None:
        """Put the next key beside the current one (``AWSPENDING``)."""
        self.client.put_secret_value(
            SecretId=self.secret, SecretString=text, VersionStages=[PENDING]
        )

    def promote_pending(self) -> None:
        """Make the staged version current (the old one keeps ``AWSPREVIOUS``)."""
        stages = self.client.describe_secret(SecretId=self.secret)["VersionIdsToStages"]
        pending = next(v for v, s in stages.items() if PENDING in s)
        current = next((v for v, s in stages.items() if CURRENT in s), None)
        if pending != current:
            self.client.update_secret_version_stage(
                SecretId=self.secret,
                VersionStage=CURRENT,
                MoveToVersionId=pending,
                **({"RemoveFromVersionId": current} if current else {}),
            )
        self.client.update_secret_version_stage(
            SecretId=self.secret, VersionStage=PENDING, RemoveFromVersionId=pending
        )

    def describe(self) -> str:
        return f"the Secrets Manager secret {self.secret}"

"""Who can do what: the ``identity`` section of config/roles.yaml (the trust root, reviewed
in git). Kept free of shared.config imports so the roles schema can include it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnchorSettings(_Strict):
    """Where checkpoints of the audit chain go (outside the database)."""

    store: Literal["local", "s3"] = "local"
    every: int = Field(1, ge=1)  # anchor after every N audit entries (1: every write)
    path: str | None = None  # local: an append-only file; default <data_root>/audit-anchors.jsonl
    bucket: str | None = None  # s3: a bucket created with Object Lock enabled
    prefix: str = "renkei/audit-anchors"
    retain_days: int = Field(2555, ge=1)  # compliance-mode retention of each checkpoint
    region: str | None = None

    @model_validator(mode="after")
    def _check(self) -> AnchorSettings:
        if self.store == "s3" and not self.bucket:
            raise ValueError("anchors.store s3 needs anchors.bucket (Object Lock enabled)")
        return self


class LedgerKeySettings(_Strict):
    """The ledger's Ed25519 key, which signs audit anchors: its public half (pinned here, in
    the trust root) and where its private half lives: an AWS Secrets Manager secret (name or
    ARN; what Batch tasks and the CLI read, nothing copied by hand), else the key folder."""

    public: str | None = None  # "ed25519:..." (`renkei keys show --ledger`)
    secret: str | None = Field(None, min_length=1)  # Secrets Manager secret name or ARN
    region: str | None = None  # the secret's region (default: the AWS default region)

    @model_validator(mode="before")
    @classmethod
    def _public_only(cls, value: object) -> object:
        """``ledger_key: "ed25519:..."`` (the older form) pins the public key only."""
        return {"public": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> LedgerKeySettings:
        if self.public is not None and not self.public.startswith("ed25519:"):
            raise ValueError(
                f"ledger_key.public must be an Ed25519 public key (ed25519:...), not "
                f"{self.public[:20]!r}: list `renkei keys show --ledger`"
            )
        return self


RELEASE_KEY_PREFIX = (
    "ecdsa:"  # a release key's public half: ecdsa:<base64 DER SubjectPublicKeyInfo>
)


class ReleaseKeySettings(_Strict):
    """The release key, which signs served bundles in the OpenSSF model-signing format
    (elliptic curve P-256/384/521): its public half pinned here (the trust root every load
    verifies against), earlier halves still trusted for bundles they signed, and where the
    private half lives: a Secrets Manager secret (name or ARN), else the key folder."""

    public: str | None = None  # "ecdsa:..." (`renkei keys show --release`)
    previous: list[str] = []  # keys rotated out whose bundles may still be served
    secret: str | None = Field(None, min_length=1)  # Secrets Manager secret name or ARN
    region: str | None = None  # the secret's region (default: the AWS default region)

    @model_validator(mode="before")
    @classmethod
    def _public_only(cls, value: object) -> object:
        """``release_key: "ecdsa:..."`` pins the public key only."""
        return {"public": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> ReleaseKeySettings:
        for text in [self.public or RELEASE_KEY_PREFIX, *self.previous]:
            if not text.startswith(RELEASE_KEY_PREFIX):
                raise ValueError(
                    f"release_key keys must be elliptic-curve public keys ({RELEASE_KEY_PREFIX}"
                    f"...), not {text[:20]!r}: list `renkei keys show --release`"
                )
        return self


class OidcSettings(_Strict):
    """OIDC bearer tokens (JWT) accepted by the scoring service, besides API tokens."""

    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    jwks: str = Field(min_length=1)  # the issuer's JWKS: an https:// URL or a file path
    algorithms: list[str] = ["RS256", "ES256"]


class IdentitySettings(_Strict):
    """How a login becomes a member, and the public keys that verify what members sign."""

    provider: Literal["local", "aws"] = "local"  # the OS user, or the STS caller ARN
    dev_mode: bool = False  # true (demo only): --as NAME is accepted, recorded as unverified
    logins: dict[str, list[str]] = {}  # member -> OS user names or AWS ARNs that are them
    public_keys: dict[str, str] = {}  # member -> Ed25519 public key (renkei keys show)
    service_keys: dict[str, str] = {}  # service (e.g. app) -> key that signs for OIDC users
    # the key that signs audit anchors: "ed25519:..." (its public half) or
    # {public: "ed25519:...", secret: NAME or ARN, region: R} (private half in Secrets Manager)
    ledger_key: LedgerKeySettings | None = None
    # the key that signs served bundles (OpenSSF model signing): "ecdsa:..." or
    # {public: "ecdsa:...", previous: [...], secret: NAME or ARN, region: R}
    release_key: ReleaseKeySettings | None = None
    anchors: AnchorSettings = AnchorSettings()
    api_oidc: OidcSettings | None = None

    @model_validator(mode="after")
    def _one_member_per_login(self) -> IdentitySettings:
        seen: dict[str, str] = {}
        for member, logins in self.logins.items():
            for login in logins:
                if login in seen and seen[login] != member:
                    raise ValueError(
                        f"login {login!r} is listed for both {seen[login]!r} and {member!r}: "
                        "one login is one person"
                    )
                seen[login] = member
        return self

    def member_of(self, login: str) -> str | None:
        for member, logins in self.logins.items():
            if login in logins:
                return member
        return None

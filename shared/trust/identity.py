"""Who is acting, from an authenticated source rather than an argument.

Providers (roles.yaml ``identity.provider``): ``local``, the operating-system user of this
process (its effective uid, not an environment variable); ``aws``, the caller's ARN from STS
GetCallerIdentity; the app adds ``oidc`` (st.user, signed for by the app's service key).
Each login maps to one member through ``identity.logins``. ``--as NAME`` is accepted only in
dev mode (the demo), and every action taken there is recorded as ``unverified``.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from shared.config.errors import RenkeiError
from shared.config.identity import IdentitySettings


class IdentityStatus(StrEnum):
    VERIFIED = "verified"  # the login came from an authenticated source and maps to a member
    UNVERIFIED = "unverified"  # dev mode: a name typed with --as, nobody checked it


class IdentityError(RenkeiError, PermissionError):
    """Who is acting cannot be established; the message says what to do."""


@dataclass(frozen=True)
class Identity:
    member: str
    login: str
    provider: str  # local | aws | oidc | dev
    status: IdentityStatus
    issuer: str | None = None  # oidc
    subject: str | None = None  # oidc

    @property
    def verified(self) -> bool:
        return self.status is IdentityStatus.VERIFIED

    def label(self) -> str:
        """How the CLI and the audit log show the actor."""
        return self.member if self.verified else f"{self.member} (unverified)"


def os_login() -> str:
    """The operating-system user this process runs as (its effective uid)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid:{os.geteuid()}"


def aws_login() -> str:
    """The ARN of the AWS caller (STS GetCallerIdentity)."""
    import boto3

    try:
        return str(boto3.session.Session().client("sts").get_caller_identity()["Arn"])
    except Exception as e:  # no credentials, no network
        raise IdentityError(f"cannot ask AWS STS who you are: {e}") from None


PROVIDERS: dict[str, Callable[[], str]] = {"local": os_login, "aws": aws_login}


def identify(settings: IdentitySettings, claimed: str | None, fallback: str) -> Identity:
    """Who is acting. ``claimed``: the ``--as`` name (dev mode only); ``fallback``: the name
    used in dev mode when the login maps to nobody (e.g. METAFLOW_USER)."""
    if claimed is not None:
        if not settings.dev_mode:
            raise IdentityError(
                f"--as is accepted only in dev mode (roles.yaml identity.dev_mode); you act "
                f"as your {settings.provider} login: drop --as"
            )
        return Identity(claimed, os_login(), "dev", IdentityStatus.UNVERIFIED)
    login = PROVIDERS[settings.provider]()
    member = settings.member_of(login)
    if settings.dev_mode:
        return Identity(member or fallback, login, "dev", IdentityStatus.UNVERIFIED)
    if member is None:
        raise IdentityError(
            f"{settings.provider} login {login!r} is nobody in roles.yaml: add it under your "
            "name in identity.logins"
        )
    return Identity(member, login, settings.provider, IdentityStatus.VERIFIED)

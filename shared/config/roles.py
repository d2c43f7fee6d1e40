"""roles.yaml's schema and the vocabulary it uses: ML Lens roles, phases, lifecycle stages."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from shared.config.identity import IdentitySettings

from .base import DEFAULT_ROLES_PATH, _load, _Strict

ML_LENS_ROLES: tuple[str, ...] = (
    "Business Analyst",
    "Domain Expert",
    "Data Analyst",
    "Data Scientist",
    "Data Engineer",
    "ML Engineer",
    "MLOps Engineer",
    "AI/ML Architect",
    "Data Architect",
    "Model Risk Manager",
    "ML Operator",
    "IT Auditor",
    "Product Manager",
    "Architect",
    "Software Engineer",
    "DevOps Engineer",
    "System Admin",
    "Operator",
)
PHASES: tuple[str, ...] = (
    "Learning",
    "Prototyping",
    "Experimenting",
    "Building",
    "Deploying",
    "Scaling",
)
LIFECYCLE_STAGES: tuple[str, ...] = (
    "Collect",
    "Validate",
    "Features",
    "Train",
    "Model test",
    "Release",
    "Deploy",
    "Operate",
    "Monitor",
)


class RaciEntry(_Strict):
    R: list[str] = []
    A: list[str] = []
    C: list[str] = []
    I: list[str] = []  # noqa: E741


class ApprovalPolicy(_Strict):
    required_roles: list[str] = Field(min_length=1)


class RolesConfig(_Strict):
    phase: Literal["Learning", "Prototyping", "Experimenting", "Building", "Deploying", "Scaling"]
    members: dict[str, list[str]]
    raci: dict[str, RaciEntry]
    approval: ApprovalPolicy
    identity: IdentitySettings = IdentitySettings()  # shared/trust: logins, keys, dev mode

    @model_validator(mode="after")
    def _check_roles(self) -> RolesConfig:
        known = set(ML_LENS_ROLES)
        for role in self.members:
            if role not in known:
                raise ValueError(f"unknown role {role!r} in members (known: ML Lens roles)")
        for stage, entry in self.raci.items():
            if stage not in LIFECYCLE_STAGES:
                raise ValueError(f"unknown lifecycle stage {stage!r} in raci")
            for letter in ("R", "A", "C", "I"):
                for role in getattr(entry, letter):
                    if role not in known:
                        raise ValueError(f"unknown role {role!r} in raci.{stage}.{letter}")
        for role in self.approval.required_roles:
            if role not in known:
                raise ValueError(f"unknown role {role!r} in approval.required_roles")
        people = {p for ps in self.members.values() for p in ps}
        for section in ("logins", "public_keys"):
            for who in getattr(self.identity, section):
                if who not in people:
                    raise ValueError(f"identity.{section}: {who!r} is not a member of any role")
        return self

    def roles_of(self, user: str) -> list[str]:
        """The roles a user holds."""
        return [role for role, people in self.members.items() if user in people]


def load_roles(path: str | Path = DEFAULT_ROLES_PATH) -> RolesConfig:
    """Read and validate a roles config file."""
    return _load(path, RolesConfig)

"""Shared by every page: configs, the ledger and who is using the app."""

from __future__ import annotations

import streamlit as st

from shared.config import (
    ProjectConfig,
    RolesConfig,
    RulesConfig,
    load_project,
    load_roles,
    load_rules,
)
from shared.ledger import Ledger
from shared.settings import app_paths, ledger_url


@st.cache_resource
def _configs(
    project: str, roles: str, rules: str
) -> tuple[ProjectConfig, RolesConfig, RulesConfig]:
    cfg = load_project(project)
    return cfg, load_roles(roles), load_rules(rules, cfg)


def configs() -> tuple[ProjectConfig, RolesConfig, RulesConfig]:
    p = app_paths()
    return _configs(p.project, p.roles, p.rules)


@st.cache_resource
def _ledger(url: str) -> Ledger:
    return Ledger.open(url)


def ledger() -> Ledger:
    cfg, _, _ = configs()
    return _ledger(ledger_url(cfg))


def current_user() -> str | None:
    """The signed-in user (OIDC via st.user), the sidebar's choice in dev mode, else None."""
    try:
        if st.user.is_logged_in:
            return str(st.user.get("email") or st.user.get("name"))
    except Exception:  # no identity provider configured
        pass
    cfg, roles, _ = configs()
    if cfg.app.dev_mode:
        people = sorted({p for members in roles.members.values() for p in members})
        return st.sidebar.selectbox(
            "Acting as (dev mode)",
            people,
            key="acting_as",
            help="Demo only: app.dev_mode in config/project.yaml. Production uses a login.",
        )
    st.sidebar.info("Read-only: no sign-in is configured.")
    return None

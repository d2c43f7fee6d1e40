"""Shared by every page: configs, the ledger and who is using the app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import streamlit as st

from shared.config import (
    ConfigError,
    ProjectConfig,
    ProjectSet,
    RolesConfig,
    RulesConfig,
    load_project_set,
)
from shared.config.settings import app_project_path, ledger_url
from shared.ledger import Ledger


@st.cache_resource
def _project_set(path: str) -> ProjectSet:
    return load_project_set(path)


def project_set() -> ProjectSet:
    """The project folder the app was started for (`renkei app --project DIR`); a config
    error is shown as one line on the page."""
    try:
        return _project_set(app_project_path())
    except ConfigError as e:
        st.error(str(e))
        st.stop()
        raise


def configs() -> tuple[ProjectConfig, RolesConfig, RulesConfig]:
    s = project_set()
    return s.project, s.roles, s.rules


@st.cache_resource
def _ledger(url: str, project_path: str) -> Ledger:
    """The ledger, its audit chain anchored after each write (shared.trust.anchors): with
    the ledger key (the demo's key folder), or inside :func:`anchored_by`, with the key
    that signed the decision."""
    from shared.trust.anchors import open_anchored

    s = _project_set(project_path)
    return open_anchored(url, s.roles.identity, s.project.storage.data_root)


def ledger() -> Ledger:
    cfg, _, _ = configs()
    return _ledger(ledger_url(cfg), app_project_path())


@contextmanager
def anchored_by(sg: Any) -> Iterator[None]:
    """Seal and anchor the writes made inside this block (a decision ``sg`` signs, the note
    beside it, feedback) with the app's service key when that key signs for a signed-in
    user: each audit entry is sealed in its write's own transaction (shared.ledger.seals),
    then anchored with the same key. In production only the Batch job role holds the ledger
    key, and `renkei audit verify` counts a service key's anchor for that service's own
    writes only (shared.trust.witness). Otherwise (dev mode) with the ledger key, as the
    CLI, nothing sealed."""
    from shared.ledger.seals import sealing_entries
    from shared.reports.trust import app_anchor_key
    from shared.trust.anchors import anchoring_with

    key = app_anchor_key(project_set().roles.identity, sg)
    with anchoring_with(key), sealing_entries(sg.entry_seal() if key else None):
        yield


def acting_for(user: str) -> AbstractContextManager[None]:
    """Where the app writes for ``user`` without a decision to sign (feedback): a signed-in
    user's writes are sealed and anchored with the app's service key (:func:`anchored_by`;
    a missing key raises shared.trust.keys.KeyError_ before anything is written); in dev
    mode, as the CLI."""
    if _oidc() is None:
        return nullcontext()
    return anchored_by(signer(user))


def current_user() -> str | None:
    """The signed-in user (OIDC via st.user), the sidebar's choice in dev mode (roles.yaml
    identity.dev_mode, the one switch), else None: read-only."""
    try:
        if st.user.is_logged_in:
            return str(st.user.get("email") or st.user.get("name"))
    except Exception:  # no identity provider configured
        pass
    _, roles, _ = configs()
    if roles.identity.dev_mode:
        people = sorted({p for members in roles.members.values() for p in members})
        return st.sidebar.selectbox(
            "Acting as (dev mode)",
            people,
            key="acting_as",
            help="Demo only: identity.dev_mode in roles.yaml. Production uses a sign-in.",
        )
    st.sidebar.info("Read-only: no sign-in is configured.")
    return None


def member(user: str) -> str:
    """The member ``user`` is: a signed-in user's login (e-mail) through roles.yaml
    identity.logins, as their decisions are signed (shared.reports.trust.app_signer); in
    dev mode the sidebar's choice is the member already. Every page checks roles, and
    records its writes, by this member (roles.yaml lists members, not e-mails)."""
    _, roles, _ = configs()
    return roles.identity.member_of(user) or user


def signer(user: str) -> object:
    """Who signs what ``user`` decides here: the app's service key for an OIDC user,
    the member's demo key (unverified) in dev mode (shared.reports.trust.app_signer)."""
    from shared.reports.trust import app_signer

    s = project_set()
    return app_signer(
        s.roles.identity, s.project.storage.data_root, s.rules.rules_hash(), user, _oidc()
    )


def _oidc() -> dict[str, str] | None:
    """The signed-in user's issuer and subject (None: nobody signed in through OIDC)."""
    try:
        if st.user.is_logged_in:
            return {"iss": str(st.user.get("iss")), "sub": str(st.user.get("sub"))}
    except Exception:  # no identity provider configured
        pass
    return None

"""What `renkei deploy aws` refuses: settings that would leave production unanchored,
unsigned, or open to anyone (issue 25). Each refusal is one line naming the setting and the
file; a dry run prints them; ``--test-account`` deploys anyway (they become warnings)."""

from __future__ import annotations

from shared.config import AwsConfig, ProjectSet


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
    if ident.anchors.store == "local" and "://" in aws.s3.data_root:
        out.append(
            f"{src}: identity.anchors.store is local, but production's data root is "
            f"{aws.s3.data_root}: no task can keep an anchor file there, so production would "
            "be unanchored; set identity.anchors: {store: s3, bucket: B} (Object Lock enabled)"
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
    return out

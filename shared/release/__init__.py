"""Release: approvals by the right roles, four eyes, promotion and rollback of aliases.

The rules are enforced here, not in the CLI or the app, so every way in is held to them:
- an approver must hold a role the approval policy (the project's roles file) requires;
- nobody approves or rejects a version they trained or registered (four eyes);
- every approval and rejection carries a comment and lands in the audit chain;
- only a version registered as ``candidate`` (every gate passed) can be promoted;
- production needs an approval from every required role and no rejection;
- promoting and rolling back need a role Responsible or Accountable for Release or Deploy;
- a rollback obeys the same rules as a promotion for the version it goes back to;
- an alias only moves onto a bundle that loads and matches its recorded sha256 and versions
  (bundles are content-addressed and never rewritten).
Each refusal names the rule that refused.

``approvals`` holds the reviews and approval status, ``promotion`` the alias moves.

Layer: lifecycle, above trust. May import shared.trust, shared.training and the layers
below: guard, model, ledger, data, config.
"""

# each name from its own module when first asked for: an approval (``renkei approve``) does
# not load the bundle and guard code (pandas, Pandera) that promotion needs (PEP 562)
from shared.config.exports import lazy_exports

__getattr__ = lazy_exports(
    __name__,
    {
        "ApprovalStatus": "approvals",
        "ReleaseRefused": "approvals",
        "approval_status": "approvals",
        "eligible_roles": "approvals",
        "review": "approvals",
        "ALIASES": "promotion",
        "RELEASE_STAGES": "promotion",
        "bundle_for": "promotion",
        "can_release": "promotion",
        "load_alias": "promotion",
        "promote": "promotion",
        "rollback": "promotion",
    },
)


__all__ = [
    "ALIASES",
    "ApprovalStatus",
    "RELEASE_STAGES",
    "ReleaseRefused",
    "approval_status",
    "bundle_for",
    "can_release",
    "eligible_roles",
    "load_alias",
    "promote",
    "review",
    "rollback",
]

"""Trust: who did what, proven. Identity (identity.py), Ed25519 keys and signed statements
(keys.py), anchors of the audit chain outside the database (anchors.py), API tokens
(tokens.py), the replay of the audit chain against the state tables (replay.py).

Import the submodules; this package imports nothing.

Layer: lifecycle, above shared.training. May import shared.training and the layers below:
guard, model, ledger, data, config."""

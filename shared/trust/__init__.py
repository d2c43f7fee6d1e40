"""Trust: who did what, proven. Identity (identity.py), Ed25519 keys and signed statements
(keys.py), anchors of the audit chain outside the database (anchors.py) and what a missing one means
(witness.py), where the ledger key lives (ledger_keys.py: a key file or a Secrets Manager
secret), its rotation and members' revocations (rotation.py) and how the chain records them
(key_history.py), API tokens
(tokens.py), the replay of the audit chain against the state tables (replay.py), driven
by one table from each audit action to the state rows it writes (replay_rules.py, with the
rules of the release tables in replay_release.py and of the other tables in replay_records.py).

Import the submodules; this package imports nothing.

Layer: lifecycle, above shared.training. May import shared.training and the layers below:
guard, model, ledger, data, config."""

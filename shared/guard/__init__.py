"""The guard: Software 1.0 rules around a Software 2.0 model.

:class:`GuardedModel` = a model version + rules (config/rules.yaml) + the data contract +
the envelope of the training data. For every row it returns a prediction, a decision
(``model``, ``corrected``, ``fallback``, ``rejected``), the reason codes of the rules that
fired, and the model and rules versions. Vectorised; it never raises on bad rows, and the
output invariants (finite answers within floor and cap, none for rejected rows) always hold.

Layer: guard, above model and ledger. May import shared.model, shared.ledger (the deployment
record a bundle is verified against), shared.data and shared.config.
"""

from shared.guard.envelope import Envelope
from shared.guard.guarded import GuardedModel
from shared.guard.predictions import GuardedPredictions, decision_counts, intervention_rate
from shared.guard.rows import DECISIONS

__all__ = [
    "DECISIONS",
    "Envelope",
    "GuardedModel",
    "GuardedPredictions",
    "decision_counts",
    "intervention_rate",
]

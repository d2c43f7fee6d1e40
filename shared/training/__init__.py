"""Training: candidates against the Software 1.0 baseline, gated, registered.

``inputs`` (datasets, labels, split by time), ``fit`` (one family fitted and scored),
``gates`` (the gates, the champion included), ``artifacts`` (comparison frame, artifact
files, ledger registration), ``conformal`` (interval calibration), ``start`` (what the train flow's first step does),
``families/`` (one module per model family; torch is imported only when a torch model is
fitted or loaded), ``metrics``.
"""

from .artifacts import (
    ComparisonRow,
    comparison_frame,
    load_artifacts,
    load_optional,
    registration,
    save_artifacts,
)
from .candidate import Candidate, GateResult, TrainingError
from .fit import GPU_FAMILIES, families_by_device, score_candidate, train_and_save, train_candidate
from .gates import (
    BINARY_GATES,
    GATES,
    GateContext,
    apply_gates,
    champion_metrics,
    gate_baseline_discriminates,
    gate_beats_baseline,
    gate_beats_champion,
    gate_guard_rate,
    gate_slices_not_worse,
)
from .inputs import (
    TrainingInput,
    TrainingSplit,
    assemble,
    generated_split,
    load_training_input,
    split_by_time,
)
from .start import TrainingStart, start_training

__all__ = [
    "BINARY_GATES",
    "Candidate",
    "ComparisonRow",
    "GATES",
    "GPU_FAMILIES",
    "GateContext",
    "GateResult",
    "TrainingError",
    "TrainingInput",
    "TrainingSplit",
    "TrainingStart",
    "apply_gates",
    "assemble",
    "champion_metrics",
    "comparison_frame",
    "families_by_device",
    "gate_baseline_discriminates",
    "gate_beats_baseline",
    "gate_beats_champion",
    "gate_guard_rate",
    "gate_slices_not_worse",
    "generated_split",
    "load_artifacts",
    "load_optional",
    "load_training_input",
    "registration",
    "save_artifacts",
    "score_candidate",
    "split_by_time",
    "start_training",
    "train_and_save",
    "train_candidate",
]

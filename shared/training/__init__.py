"""Training: candidates against the Software 1.0 baseline, gated, registered.

``inputs`` (datasets, labels, split by time), ``external`` and ``streamfit`` (the split
written as parts and the families fitted over them: training.memory), ``fit`` (one family fitted and scored),
``gates`` (the gates, the champion included), ``search`` and ``study`` (training.search:
Optuna trials in groups; the study's storage and the best group per family), ``comparison``
(the comparison frame), ``artifacts`` (artifact files, ledger registration), ``start`` (what the train flow's first step does). The
families, metrics and the conformal calibration they use are the model layer's
(shared.model); ``families/base.py`` here only keeps an old class path for pickled artifacts.

Layer: lifecycle, bottom (beside shared.deploy). May import the guard, model, ledger, data
and config layers.
"""

from shared.config.exports import lazy_exports

# Each name is imported from its module on first use (PEP 562): a caller that needs only
# `load_artifacts` (release, trust, monitor) does not load the fitting and gating code.
__getattr__ = lazy_exports(
    __name__,
    {
        "ComparisonRow": "comparison",
        "comparison_frame": "comparison",
        "load_artifacts": "artifacts",
        "load_optional": "artifacts",
        "registration": "artifacts",
        "save_artifacts": "artifacts",
        "Candidate": "candidate",
        "GateResult": "candidate",
        "TrainingError": "candidate",
        "SpilledSplit": "external",
        "spill_split": "external",
        "use_external": "external",
        "GPU_FAMILIES": "fit",
        "families_by_device": "fit",
        "score_candidate": "fit",
        "train_and_save": "fit",
        "train_candidate": "fit",
        "BINARY_GATES": "gates",
        "GATES": "gates",
        "GateContext": "gates",
        "apply_gates": "gates",
        "champion_metrics": "gates",
        "gate_baseline_discriminates": "gates",
        "gate_beats_baseline": "gates",
        "gate_beats_champion": "gates",
        "gate_guard_rate": "gates",
        "gate_slices_not_worse": "gates",
        "TrainingInput": "inputs",
        "TrainingSplit": "inputs",
        "assemble": "inputs",
        "generated_split": "inputs",
        "load_training_input": "inputs",
        "split_by_time": "inputs",
        "TrialGroup": "study",
        "choose": "study",
        "fit_unit": "search",
        "plan_search": "search",
        "TrainingStart": "start",
        "start_training": "start",
        "train_external": "streamfit",
    },
)


__all__ = [
    "BINARY_GATES",
    "Candidate",
    "ComparisonRow",
    "GATES",
    "GPU_FAMILIES",
    "GateContext",
    "GateResult",
    "SpilledSplit",
    "TrainingError",
    "TrainingInput",
    "TrainingSplit",
    "TrainingStart",
    "TrialGroup",
    "apply_gates",
    "assemble",
    "champion_metrics",
    "choose",
    "comparison_frame",
    "families_by_device",
    "fit_unit",
    "gate_baseline_discriminates",
    "gate_beats_baseline",
    "gate_beats_champion",
    "gate_guard_rate",
    "gate_slices_not_worse",
    "generated_split",
    "load_artifacts",
    "load_optional",
    "load_training_input",
    "plan_search",
    "registration",
    "save_artifacts",
    "score_candidate",
    "spill_split",
    "split_by_time",
    "start_training",
    "train_and_save",
    "train_candidate",
    "train_external",
    "use_external",
]

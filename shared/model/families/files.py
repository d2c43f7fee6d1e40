"""The files each family writes: light enough for a process that only hashes or lists a
model's artifacts (an approval's signature) without loading the families' libraries."""

from __future__ import annotations

META = "meta.json"

# the files each family writes (besides envelope.json, which training adds)
ARTIFACT_FILES: dict[str, list[str]] = {
    "baseline": [META],
    "xgboost": ["model.json", META],
    "torch_mlp": ["state_dict.pt", META],
}

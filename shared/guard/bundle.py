"""The deployable bundle: model (open format) + baseline + rules + contract + envelope.

One zip file, loadable without Metaflow and without unpickling code: JSON everywhere, and
the PyTorch state dict loaded with ``weights_only=True``. Every file's sha256 is in the
manifest and checked on load.

Bundles are immutable and content-addressed: stored under their own sha256, which the
deployment records; :func:`load_deployed` (every load path: service, score flow, app,
promotion, rollback) checks that digest and the manifest's model and rules versions
against the deployment and refuses a mismatch with one line naming both. A served bundle
is also signed by the release key in the OpenSSF model-signing format (shared.guard.bundle_sign:
the signature beside it); every load verifies that signature against the keys pinned in
roles.yaml, so a bundle changed together with its recorded sha256 is refused too.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.config import ConfigError, ProjectConfig, RulesConfig, check_rules
from shared.config.errors import RenkeiError
from shared.data import storage
from shared.guard import Envelope, GuardedModel
from shared.guard.bundle_sign import ReleaseKeys, signature_problem, signature_uri
from shared.model.conformal import CALIBRATION_FILE, Calibration
from shared.model.families import load_model

if TYPE_CHECKING:
    from shared.ledger import DeploymentRecord

FORMAT = "renkei-bundle/1"


class BundleError(RenkeiError, ValueError):
    """A bundle is unreadable, incomplete or altered."""


@dataclass(frozen=True)
class BundleManifest:
    format: str
    model_version: str
    family: str
    rules_version: str  # "<git commit or unknown>+<rules hash>"
    rules_hash: str
    created_at: str
    files: dict[str, str]  # path in the zip -> sha256


def rules_version(rules: RulesConfig, commit: str | None) -> str:
    return f"{(commit or 'unknown')[:12]}+{rules.rules_hash()}"


def build_bundle(
    model_files: dict[str, bytes],
    baseline_files: dict[str, bytes],
    cfg: ProjectConfig,
    rules: RulesConfig,
    envelope: Envelope,
    model_version: str,
    family: str,
    commit: str | None,
    calibration: bytes | None = None,
) -> bytes:
    """Pack everything a guarded model needs into one zip (bytes); ``calibration`` is the
    model's ``calibration.json`` (intervals; none for versions trained without one)."""
    files: dict[str, bytes] = {f"model/{k}": v for k, v in model_files.items()}
    files.update({f"baseline/{k}": v for k, v in baseline_files.items()})
    files["project.json"] = json.dumps(cfg.portable_dump(), indent=2).encode()
    files["rules.json"] = json.dumps(rules.model_dump(mode="json"), indent=2).encode()
    files["envelope.json"] = json.dumps(envelope.to_dict(), indent=2).encode()
    if calibration is not None:
        files[CALIBRATION_FILE] = calibration
    _check_interval_rules(rules, calibration is not None, model_version)
    manifest = BundleManifest(
        FORMAT,
        model_version,
        family,
        rules_version(rules, commit),
        rules.rules_hash(),
        datetime.now(UTC).isoformat(),
        {k: hashlib.sha256(v).hexdigest() for k, v in sorted(files.items())},
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(vars(manifest), indent=2))
        for name, data in sorted(files.items()):
            z.writestr(name, data)
    return buf.getvalue()


def read_bundle(data: bytes) -> tuple[BundleManifest, dict[str, bytes]]:
    """The manifest and the files of a bundle, every hash checked."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            manifest = BundleManifest(**json.loads(z.read("manifest.json")))
            files = {name: z.read(name) for name in manifest.files}
    except (zipfile.BadZipFile, KeyError, TypeError, json.JSONDecodeError) as e:
        raise BundleError(f"not a readable Renkei bundle: {e}") from None
    if manifest.format != FORMAT:
        raise BundleError(f"unknown bundle format {manifest.format!r} (expected {FORMAT})")
    for name, digest in manifest.files.items():
        if hashlib.sha256(files[name]).hexdigest() != digest:
            raise BundleError(f"bundle file {name} does not match its hash (altered)")
    return manifest, files


def load_bundle(data: bytes) -> GuardedModel:
    """A ready :class:`GuardedModel` from bundle bytes."""
    manifest, files = read_bundle(data)
    cfg = ProjectConfig.model_validate(json.loads(files["project.json"]))
    rules = RulesConfig.model_validate(json.loads(files["rules.json"]))
    envelope = Envelope.from_dict(json.loads(files["envelope.json"]))
    try:  # rules that do not fit the data would silently reject or fall back on every row
        check_rules(rules, cfg, f"bundle {manifest.model_version} rules.json")
    except ConfigError as e:
        raise BundleError(str(e)) from None

    def part(prefix: str) -> dict[str, bytes]:
        return {k[len(prefix) :]: v for k, v in files.items() if k.startswith(prefix)}

    model = load_model(part("model/"), cfg)
    baseline = load_model(part("baseline/"), cfg)
    cal = files.get(CALIBRATION_FILE)  # older bundles have none: no interval columns
    _check_interval_rules(rules, cal is not None, manifest.model_version)
    return GuardedModel(
        model,
        baseline,
        cfg,
        rules,
        envelope,
        manifest.model_version,
        manifest.rules_version,
        None if cal is None else Calibration.from_json(cal),
    )


def _check_interval_rules(rules: RulesConfig, calibrated: bool, model_version: str) -> None:
    """An interval rule needs a calibrated model: without one it would fire on every row."""
    names = [r.name for r in rules.input if r.kind == "interval"]
    if names and not calibrated:
        raise BundleError(
            f"rule {names[0]!r} (interval) needs intervals, but model {model_version} was "
            "trained without a calibration: retrain it, or remove the rule from rules.yaml"
        )


def describe(data: bytes) -> dict[str, Any]:
    manifest, _ = read_bundle(data)
    return vars(manifest)


def digest(data: bytes) -> str:
    """The sha256 of a bundle's bytes: its identity and its stored name."""
    return hashlib.sha256(data).hexdigest()


def bundle_uri(data_root: str, model_version: str, sha256: str) -> str:
    """Where a bundle lives: named by its content, so a name never holds other bytes."""
    return storage.join(data_root, "bundles", f"{model_version}-sha256-{sha256}.zip")


def load_verified(
    uri: str,
    sha256: str | None,
    model_version: str,
    rules_version: str,
    what: str,
    keys: ReleaseKeys,
) -> GuardedModel:
    """Load the bundle at ``uri`` only if it is exactly what ``what`` (a deployment) recorded
    and signed by a release key in ``keys`` (its OpenSSF signature beside it).

    Raises :class:`BundleError` with one line naming both sides on any mismatch.
    """
    if not sha256:
        raise BundleError(
            f"{what} records no bundle digest (deployed before digests were kept): "
            "promote the version again to deploy it with one"
        )
    try:
        data = storage.read_bytes(uri)
    except FileNotFoundError:
        raise BundleError(f"{what}: its bundle {uri} is missing") from None
    found = digest(data)
    if found != sha256:
        raise BundleError(
            f"{what}: bundle {uri} has sha256 {found[:12]}, the deployment recorded "
            f"{sha256[:12]} (swapped, edited or truncated): refusing to load it"
        )
    check_signed(uri, data, keys, what)
    guarded = load_bundle(data)
    if (guarded.model_version, guarded.rules_version) != (model_version, rules_version):
        raise BundleError(
            f"{what}: bundle manifest says model {guarded.model_version} with rules "
            f"{guarded.rules_version}, the deployment says model {model_version} with rules "
            f"{rules_version}: refusing to load it"
        )
    return guarded


def check_signed(uri: str, data: bytes, keys: ReleaseKeys, what: str) -> None:
    """Refuse bundle bytes ``data`` (read from ``uri``) unless the signature beside them is a
    release key's OpenSSF model-signing signature of exactly these bytes."""
    try:
        signature = storage.read_bytes(signature_uri(uri))
    except FileNotFoundError:
        raise BundleError(
            f"{what}: bundle {uri} is unsigned (no {signature_uri(uri)}): refusing to load "
            "it; promote the version again to sign its bundle"
        ) from None
    problem = signature_problem(data, signature, keys)
    if problem is not None:
        raise BundleError(
            f"{what}: bundle {uri} fails its release signature: {problem}: refusing to load it"
        )


def load_deployed(dep: DeploymentRecord, keys: ReleaseKeys) -> GuardedModel:
    """The guarded model of a deployment, its bundle verified against the ledger and signed
    by a release key in ``keys``."""
    return load_verified(
        dep.bundle_uri,
        dep.bundle_sha256,
        dep.version,
        dep.rules_version,
        f"deployment {dep.id} ({dep.version} as {dep.alias})",
        keys,
    )

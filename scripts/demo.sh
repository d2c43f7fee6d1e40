#!/usr/bin/env bash
# The demo (what `make demo` runs after setup; bench/bench_demo.py times it): ingest, train,
# approve, promote, score a fresh drifted batch, then the simulated days (demo_days.sh).
set -euo pipefail
PY=${PY:-.venv/bin/python}
RENKEI=${RENKEI:-.venv/bin/renkei}
$RENKEI db upgrade   # the demo creates its ledger (nothing else creates one)
$PY flows/ingest_flow.py run --bad-fraction 0.02
$RENKEI datasets
$PY flows/train_flow.py run
echo
$RENKEI models
echo
# the demo members of config/roles.yaml: kenji (Domain Expert) and yui (Model Risk Manager)
# approve, sora (MLOps Engineer) promotes; nobody reviews their own model
# config/roles.yaml is in dev mode (identity.dev_mode): --as is accepted, each member's demo
# key is made under data/keys, and every decision is recorded as unverified
V=$($RENKEI models --latest-candidate)
$RENKEI approve "$V" --as kenji --comment "ETA error well under the rule's on every zone"
$RENKEI approve "$V" --as yui --comment "guard interventions within limits"
TMP=$(mktemp -d)
$RENKEI promote "$V" --to production --as sora --reason "demo release" | tee "$TMP/promoted"
# the promoted bundle is signed in the OpenSSF model-signing format: the package's own CLI
# verifies it with the release key's public half
$RENKEI keys show --release --pem > "$TMP/release.pub"
BUNDLE=$(sed -n 's/^  bundle //p' "$TMP/promoted")
"$(dirname "$PY")/model_signing" verify key "$BUNDLE" --signature "$BUNDLE.sig" \
  --public_key "$TMP/release.pub"
rm -r "$TMP"
$PY flows/score_flow.py run --rows 3000 --drift 0.5 --bad-fraction 0.03
echo
$RENKEI scores --rows 5   # a few answers with their conformal intervals (intervals.coverage)
echo
$RENKEI history
PY=$PY RENKEI=$RENKEI scripts/demo_days.sh
echo
# the demo's own record must hold: the chain, its anchors, the state tables replayed against
# it and every signature (a broken chain exits 1 and fails the demo)
$RENKEI audit verify

#!/usr/bin/env bash
# The demo's days: each day new orders arrive, are ingested and scored by production; the
# true delivery times come back as feedback; the monitor flow checks drift and, when it
# must, starts retraining. Day 1 (no drift) needs no retraining; day 2 (drifted) starts it,
# and the new candidate waits for approval. Batches are as small as the checks allow.
set -euo pipefail
PY=${PY:-.venv/bin/python}
RENKEI=${RENKEI:-.venv/bin/renkei}
day=0
for drift in 0.0 1.0; do
  day=$((day + 1))
  echo
  echo "=== day $day: drift $drift ==========================================================="
  $PY flows/ingest_flow.py run --seed $((300 + day)) --rows 4000 --drift "$drift" --bad-fraction 0.02 \
    2>&1 | grep -E "dataset ds-|failed|Error" || true
  $PY flows/score_flow.py run --seed $((400 + day)) --rows 2000 --drift "$drift" --bad-fraction 0.03 \
    2>&1 | grep -E "scoring batch|decisions:|failed|Error" || true
  labels=$(ls -t data/incoming/score-*-seed$((400 + day))-*.labels.parquet | head -n 1)
  $RENKEI feedback "$labels" --as ren
  $PY flows/monitor_flow.py run --window 1 2>&1 | grep -E "alert |RETRAIN|no retraining|registered|failed|Error" || true
done
# the retrained candidate answers day 3's traffic in the shadow of production (recorded,
# never returned); the monitor flow compares the two on the labels that come back
NEW=$($RENKEI models --latest-candidate)
PROD=$($RENKEI history --alias production --json | $PY -c "import json,sys; print(json.load(sys.stdin)[-1]['version'])")
if [ "$NEW" != "$PROD" ]; then
  echo
  echo "=== day 3: $NEW in the shadow of production ($PROD) ================================="
  $RENKEI shadow "$NEW" --alias production --as sora --reason "try the retrained model on live traffic"
  $PY flows/score_flow.py run --seed 403 --rows 2000 --drift 1.0 --bad-fraction 0.03 \
    2>&1 | grep -E "scoring batch|decisions:|failed|Error" || true
  labels=$(ls -t data/incoming/score-*-seed403-*.labels.parquet | head -n 1)
  $RENKEI feedback "$labels" --as ren
  $PY flows/monitor_flow.py run --window 1 --retrain none 2>&1 | grep -E "\] shadow |failed|Error" || true
fi
echo
$RENKEI monitoring --last 2
echo
$RENKEI models
echo
$RENKEI costs

"""The Guard page's what-if form accepts a missing value (issue 29, item 3): a project with
nullable features (one of each type: a number, an integer, a yes/no, a category), trained
on data with gaps and released; the form offers each nullable feature a "missing" box, and
the guarded model answers the row without those features, as it answers such a row over
HTTP or in the score flow."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from shared.config import load_project_set
from shared.config.identity import IdentitySettings
from shared.data.generator import generate_orders
from shared.ledger import Ledger
from shared.pipeline.ingest import ingest
from shared.release import load_alias
from shared.reports.whatif import what_if
from shared.trust.release_key import release_keys
from tests.app.test_apptest import open_page
from tests.builders import release, train_run
from tests.conftest import FAST_TRAINING, write_project
from tests.unit.test_gaps import NULLABLE, with_gaps


@pytest.fixture(scope="module")
def gappy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose four nullable features have 10% gaps in its training data; its
    candidate approved and promoted to production."""
    tmp = tmp_path_factory.mktemp("gaps")
    project = write_project(
        tmp,
        **FAST_TRAINING,
        training__families=["baseline", "xgboost"],
        **{f"features__{n}__nullable": True for n in NULLABLE},
    )
    pset = load_project_set(project)
    cfg, rules, roles = pset.project, pset.rules, pset.roles
    g = generate_orders(3000, seed=11, bad_fraction=0.0)
    raw = with_gaps(g.orders, 0.1, seed=3).merge(
        g.labels[[cfg.id_column, cfg.target]], on=cfg.id_column
    )
    raw.to_csv(tmp / "orders.csv", index=False)
    ledger = Ledger.open(cfg.storage.ledger_url)
    ingested = ingest(
        ledger, cfg, "taro", "IngestFlow/g1", str(tmp / "orders.csv"), now=datetime(2026, 11, 1)
    )
    assert ingested.outcome.rows_quarantined == 0  # every gap is in a nullable feature
    [version] = train_run(ledger, cfg, rules, ingested.outcome.dataset_version, "g1", "mina")
    release(ledger, roles, cfg, rules, version)
    return project


def form_values(at: AppTest) -> dict[str, object]:
    """The what-if form's feature values as they stand (widget keys ``whatif_FEATURE``)."""
    widgets = [*at.number_input, *at.selectbox, *at.checkbox]
    return {
        w.key.removeprefix("whatif_"): w.value
        for w in widgets
        if w.key and w.key.startswith("whatif_") and not w.key.startswith("whatif_missing_")
    }


def test_the_what_if_form_asks_the_guard_without_a_nullable_feature(app_env, gappy) -> None:
    app_env(gappy)
    cfg = load_project_set(gappy).project
    at = open_page("guard")
    # each nullable feature can be left missing; the others cannot
    boxes = {w.key for w in at.checkbox if w.key and w.key.startswith("whatif_missing_")}
    assert boxes == {f"whatif_missing_{n}" for n in NULLABLE}
    values = form_values(at)
    assert set(values) == set(cfg.features)

    # what the production model answers for the form's row, complete and without the
    # nullable features, on the service's path (the same bundle, rows as JSON records)
    keys = release_keys(IdentitySettings(dev_mode=True), cfg.storage.data_root)
    found = load_alias(Ledger.open(cfg.storage.ledger_url), keys=keys)
    assert found is not None
    dep, guarded = found
    now = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
    row = {**values, cfg.timestamp_column: now}
    complete, without = guarded.predict_records([row, {**row, **dict.fromkeys(NULLABLE)}])
    assert (without["decision"], without["reasons"]) == ("model", [])
    assert f"{without['prediction']:.1f}" != f"{complete['prediction']:.1f}"  # it shows

    for n in NULLABLE:
        at.checkbox(key=f"whatif_missing_{n}").check()
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, [e.value for e in at.exception]
    [answer] = [m for m in at.metric if m.label == f"{cfg.target} ({dep.version})"]
    assert answer.value == f"{without['prediction']:.1f}"
    text = [m.value for m in at.markdown]
    assert "Decision: **model**" in text and "Rules that fired: none" in text
    assert "Asked without: " + ", ".join(sorted(NULLABLE)) in text

    # the shared function behind the form: the same answer; a name that is no feature refused
    same = what_if(guarded, cfg, values, set(NULLABLE))
    assert same["prediction"] == pytest.approx(without["prediction"])
    with pytest.raises(ValueError, match="not features"):
        what_if(guarded, cfg, values, {"no_such_feature"})

"""The Monitoring page shows interval coverage over time and answers with their intervals,
in Streamlit's AppTest and in a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import populate
from tests.app.test_apptest import open_page
from tests.app.test_browser import CHROMIUM, open_browser, start_app, stop, wait_rendered
from tests.conftest import free_port, need


def coverage_checks(t) -> list[dict]:
    [report] = t.ledger.monitoring.reports()
    return [c for c in report.checks if c["name"] == "interval_coverage"]


def test_monitoring_page_shows_coverage_over_time(app_env, populated) -> None:
    [check] = coverage_checks(populated)  # 300 labelled answers: measured
    app_env(populated.project_path)
    at = open_page("monitoring")
    assert any(s.value == "Interval coverage over time" for s in at.subheader)
    caption = " ".join(c.value for c in at.caption)
    assert f"{check['value']:.1%} in the newest report" in caption
    assert "alert below 85%" in caption
    frames = [d.value for d in at.dataframe]
    sample = next(f for f in frames if "interval_low" in f.columns)
    assert (sample["interval_low"] <= sample["prediction"]).all()
    assert (sample["prediction"] <= sample["interval_high"]).all()


@pytest.mark.slow
def test_monitoring_page_shows_coverage_in_a_real_browser(tmp_path: Path) -> None:
    need(Path(CHROMIUM).exists(), "Debian chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    t = populate(tmp_path)
    [check] = coverage_checks(t)
    port = free_port()
    proc = start_app(t.project_path, port)
    try:
        with sync_playwright() as pw:
            browser, page = open_browser(pw)
            page.goto(f"http://127.0.0.1:{port}/monitoring")
            wait_rendered(page, "Monitoring")
            page.get_by_role("heading", name="Interval coverage over time").wait_for()
            page.get_by_text(f"{check['value']:.1%} in the newest report").wait_for()
            page.get_by_text("Newest scored answers with their intervals").wait_for()
            assert page.locator('[data-testid="stException"]').count() == 0
            page.screenshot(path=str(tmp_path / "monitoring.png"), full_page=True)
            browser.close()
    finally:
        stop(proc)

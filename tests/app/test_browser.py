"""The app in a real headless Chromium (Debian's), driven by Playwright: every page, one approval."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.release import approval_status
from tests.app.conftest import PAGES, populate
from tests.conftest import REPO, free_port, need, stop_process, wait_for_http

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def start_app(project: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "RENKEI_PROJECT": str(project), "RENKEI_LEDGER_URL": ""}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "app" / "Home.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", proc)
    return proc


def open_browser(pw):
    """Debian's Chromium, headless, and one page at a desktop size."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    return browser, browser.new_page(viewport={"width": 1400, "height": 1000})


def stop(proc: subprocess.Popen) -> None:
    stop_process(proc)


QUIET_S = 0.5  # the running indicator must stay away this long for a page to count as done
_QUIET_JS = """() => new Promise(resolve => {
  let quiet = 0;
  const tick = () => {
    const running = document.querySelector('[data-testid="stStatusWidgetRunningIcon"],'
      + '[data-testid="stStatusWidgetRunningManIcon"]');
    quiet = running ? 0 : quiet + 1;
    if (quiet >= 5) resolve(true); else setTimeout(tick, 100);
  };
  tick();
})"""


def wait_rendered(page, title: str) -> None:
    """Wait for the page's title, then until the script has stopped running for QUIET_S."""
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
    page.wait_for_function(_QUIET_JS, timeout=30_000)


def choose(page, label: str, option: str) -> None:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option, exact=True).click()


TITLES = {
    "overview": "Overview",
    "lineage": "Lineage",
    "models": "Models and approvals",
    "roles": "Roles and ownership",
    "guard": "Guard activity",
    "audit": "Audit",
    "operator": "Operator feedback",
    "monitoring": "Monitoring",
    "costs": "Costs and break-even",
}


def test_every_page_in_a_real_browser_and_one_approval(tmp_path: Path) -> None:
    need(Path(CHROMIUM).exists(), "Debian chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    t = populate(tmp_path)
    _, v2 = t.candidates
    shots = tmp_path / "screenshots"
    shots.mkdir()
    port = free_port()
    proc = start_app(t.project_path, port)
    try:
        with sync_playwright() as pw:
            browser, page = open_browser(pw)
            for name in PAGES:
                path = "" if name == "overview" else name
                page.goto(f"http://127.0.0.1:{port}/{path}")
                wait_rendered(page, TITLES[name])
                if name == "lineage":  # the graph is drawn in the browser: wait for it
                    page.locator('[data-testid="stGraphVizChart"] svg').first.wait_for(
                        timeout=30_000
                    )
                assert page.locator('[data-testid="stException"]').count() == 0, name
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            # one approval as an eligible user (kenji, Domain Expert, did not train it); the
            # demo project is in dev mode, so the app records it as unverified
            page.goto(f"http://127.0.0.1:{port}/models")
            wait_rendered(page, "Models and approvals")
            choose(page, "Acting as", "kenji")
            wait_rendered(page, "Models and approvals")
            choose(page, "Model version", v2)
            wait_rendered(page, "Models and approvals")
            # the shadow evidence is on the page before the decision
            page.get_by_text(f"{v2} vs {t.candidates[0]} on").first.wait_for(timeout=30_000)
            page.get_by_label("Comment (required)").fill("checked in the browser")
            page.get_by_role("button", name="Approve").click()
            page.get_by_text(f"kenji (unverified) approved {v2} as Domain Expert").wait_for(
                timeout=30_000
            )
            page.screenshot(path=str(shots / "approval.png"), full_page=True)
            # the Lineage page reaches an online answer by its request id
            page.goto(f"http://127.0.0.1:{port}/lineage")
            wait_rendered(page, "Lineage")
            box = page.get_by_label(
                "An online answer's request id (the request_id of a /predict answer)"
            )
            box.fill(t.request_ids[0])
            box.press("Enter")
            page.get_by_text("was answered by deployment").first.wait_for(timeout=30_000)
            page.screenshot(path=str(shots / "online_lineage.png"), full_page=True)
            browser.close()
    finally:
        stop(proc)
    assert approval_status(t.ledger, t.roles, v2).approved == {"Domain Expert": "kenji"}
    seen = [e for e in t.ledger.audit.entries() if e.action == "model.shadow_evidence_seen"]
    assert [(e.actor, e.subject) for e in seen] == [("kenji", v2)]
    assert sorted(p.name for p in shots.iterdir()) == sorted(
        [*(f"{n}.png" for n in PAGES), "approval.png", "online_lineage.png"]
    )
    keep = REPO / "test-output" / "screenshots"  # for people to look at (git-ignored)
    keep.mkdir(parents=True, exist_ok=True)
    for p in shots.iterdir():
        shutil.copy(p, keep / p.name)

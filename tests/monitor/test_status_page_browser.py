"""The status page in a real browser: Debian's Chromium driven by Playwright.

* In front of an in-memory detector: the page refreshes itself (an alert opened after the page
  loaded appears without a reload by the test) and fits a phone's width.
* On the real pipeline (ingest, load and the detector as processes on the real Kafka and
  ClickHouse, mail into aiosmtpd): stopping the load worker opens a consumer-lag incident with
  its email on the page; restarting it resolves the incident.

Screenshots are written under the test's tmp dir (``screenshots/``) as artifacts.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tickwatch.settings import Settings
from tickwatch.status_api import discover
from tickwatch.types import Status

from .test_pipeline_e2e import Workers, count, env_for, wait_for
from .test_status_api import TOKEN, start_running

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium (the Debian package), or a skip saying how to install it."""
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        reason = "Chromium is not installed: apt-get install -y chromium (make setup as root)"
        print(f"\nSKIPPED browser tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


def test_page_refreshes_itself_and_fits_a_phone(chromium: Any, tmp_path: Path, shots: Path) -> None:
    gen = start_running(tmp_path, TOKEN, refresh_s=1)
    running = next(gen)
    try:
        running.clock.advance(5)
        running.fail("freshness/trades/crypto", Status.OK)
        page = chromium.new_page(viewport=PHONE)
        page.goto(running.server.url)
        page.locator("#overall", has_text="all checks passing").wait_for()
        for _ in range(2):
            running.clock.advance(5)
            running.fail("heartbeat/load")
        # no reload from here: the page's own refresh must bring the incident in
        incident = page.locator('.incident[data-key="heartbeat/load"][data-open="true"]')
        incident.wait_for(timeout=15_000)
        assert "1 open alert" in page.inner_text("#overall")
        assert page.locator('tr[data-key="heartbeat/load"][data-status="CRIT"]').count() == 1
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px phone"
        page.screenshot(path=str(shots / "phone-incident.png"), full_page=True)
    finally:
        with pytest.raises(StopIteration):
            next(gen)


@pytest.mark.kafka
@pytest.mark.clickhouse
@pytest.mark.smtp
@pytest.mark.slow
def test_an_incident_on_the_real_pipeline_appears_and_resolves(
    chromium: Any, settings: Settings, smtp_server: Any, tmp_path: Path, ch_client: Any
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    server = smtp_server()
    state = tmp_path / "state"
    env = env_for(settings, server, state)
    env.update({"TICKWATCH_STATUS_PORT": "0", "TICKWATCH_STATUS_REFRESH_S": "2"})
    lag_key = f"consumer_lag/{settings.kafka.consumer_group}/{settings.kafka.topic_trades}"
    workers = Workers(env, tmp_path)
    try:
        workers.start("ingest")
        workers.start("load")
        wait_for(lambda: count(ch_client, "SELECT count() FROM trades") > 200, 90, "rows")
        workers.start("monitor")
        wait_for(lambda: discover(state) is not None, 60, "the status server")
        page = chromium.new_page(viewport={"width": 1200, "height": 900})
        page.goto(str(discover(state)))
        page.locator(f'tr[data-key="{lag_key}"][data-status="OK"]').wait_for(timeout=60_000)
        page.screenshot(path=str(shots / "1-healthy.png"), full_page=True)

        workers.stop("load")
        stopped = time.time()
        incident = page.locator(f'.incident[data-key="{lag_key}"]').first
        page.locator(f'.incident[data-key="{lag_key}"][data-open="true"]').wait_for(timeout=120_000)
        print(f"\nBROWSER: load stopped -> incident on the page: {time.time() - stopped:.1f} s")
        incident.locator(".entry-email_sent").first.wait_for(timeout=60_000)
        assert page.locator(f'tr[data-key="{lag_key}"][data-status="OK"]').count() == 0
        page.screenshot(path=str(shots / "2-incident.png"), full_page=True)

        workers.start("load")
        resolved = page.locator(f'.incident[data-key="{lag_key}"][data-open="false"]').first
        resolved.locator(".entry-resolve").wait_for(timeout=150_000)
        resolved.locator(".entry-email_sent").nth(1).wait_for(timeout=60_000)
        page.screenshot(path=str(shots / "3-resolved.png"), full_page=True)
        print(f"BROWSER: screenshots in {shots}")
        assert workers.stop("monitor") == 0
    finally:
        workers.stop_all()

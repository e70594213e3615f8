"""Probe URLs and log messages lose their passwords and tokens (``tickwatch.redact``)."""

from __future__ import annotations

import io

from loguru import logger

from monitor.checks.probes import ProbeCheck, parse_probe_urls
from tickwatch.redact import mask_urls, redact_url, scrub
from tickwatch.settings import TelemetrySettings
from tickwatch.telemetry import configure_logging

URL = "http://ops:hunter2@127.0.0.1:1/health?token=t0k3n&region=eu"


class FixedClock:
    def time(self) -> float:
        return 1_700_000_000.0


def test_password_and_secret_query_values_are_masked() -> None:
    assert redact_url(URL) == "http://ops:***@127.0.0.1:1/health?token=***&region=eu"
    assert redact_url("https://[::1]:8443/x?api_key=a&sig=b") == (
        "https://[::1]:8443/x?api_key=***&sig=***"
    )
    assert redact_url("tcp://db:5432") == "tcp://db:5432"
    assert redact_url("http://user@h/p") == "http://user@h/p"  # no password, nothing to hide


def test_scrub_masks_the_url_and_each_secret_inside_a_message() -> None:
    text = scrub(f"GET {URL} failed; retry with hunter2 and t0k3n", URL)
    assert "hunter2" not in text and "t0k3n" not in text
    assert "http://ops:***@127.0.0.1:1/health" in text


def test_mask_urls_leaves_plain_urls_alone() -> None:
    assert mask_urls("see http://127.0.0.1:3000/d/x.") == "see http://127.0.0.1:3000/d/x."
    assert "hunter2" not in mask_urls(f'HTTP Request: GET {URL} "HTTP/1.1 200 OK"')


def test_probe_results_carry_the_redacted_target() -> None:
    check = ProbeCheck(parse_probe_urls(URL), timeout_s=0.5, interval_s=1, clock=FixedClock())
    (result,) = check.run()  # port 1 on loopback: connection refused, CRIT
    assert result.target == redact_url(URL)
    assert "hunter2" not in result.message and "t0k3n" not in result.message
    assert "hunter2" not in result.key


def test_log_lines_are_masked_even_from_libraries() -> None:
    import logging

    sink = io.StringIO()
    configure_logging("test", TelemetrySettings(), sink=sink)
    try:
        logging.getLogger("httpx").info("HTTP Request: GET %s", URL)
        logger.info("probing {}", URL)
    finally:
        logger.remove()
    out = sink.getvalue()
    assert out.count("ops:***@") == 2 and "hunter2" not in out and "t0k3n" not in out

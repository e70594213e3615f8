"""Optional probes of URLs listed in ``monitor.probe_urls`` (comma-separated).

``http://`` and ``https://`` URLs are fetched with a GET (CRIT on a transport error or a status
of 400 and above); ``tcp://host:port`` is a plain TCP connect. One row per URL, value = seconds.
Targets are redacted (``tickwatch.redact``): a password or token in a probe URL is never stored,
alerted on or mailed.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import httpx

from monitor.errors import MonitorConfigError
from tickwatch.clock import WallClock
from tickwatch.redact import redact_url, scrub
from tickwatch.types import CheckResult, Status


def parse_probe_urls(spec: str) -> list[str]:
    """Split and validate ``monitor.probe_urls``; raises MonitorConfigError on a bad entry."""
    urls = [u.strip() for u in spec.split(",") if u.strip()]
    for url in urls:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https", "tcp") or not parsed.hostname:
            raise MonitorConfigError(
                f"TICKWATCH_MONITOR_PROBE_URLS: bad URL {redact_url(url)!r} "
                "(expected http://, https:// or tcp://host:port)"
            )
        if parsed.scheme == "tcp" and parsed.port is None:
            raise MonitorConfigError(
                f"TICKWATCH_MONITOR_PROBE_URLS: {redact_url(url)!r} needs a port"
            )
    return urls


class ProbeCheck:
    name = "probe"

    def __init__(
        self, urls: list[str], *, timeout_s: float, interval_s: float, clock: WallClock
    ) -> None:
        self._urls, self._timeout = urls, timeout_s
        self.interval_s = interval_s
        self._clock = clock

    def run(self) -> list[CheckResult]:
        return [self._probe(url) for url in self._urls]

    def _probe(self, url: str) -> CheckResult:
        now = self._clock.time()
        t0 = time.perf_counter()
        try:
            detail = self._tcp(url) if url.startswith("tcp://") else self._http(url)
            status = (
                Status.CRIT
                if detail.startswith("HTTP 4") or detail.startswith("HTTP 5")
                else Status.OK
            )
        except (OSError, httpx.HTTPError) as exc:
            status, detail = Status.CRIT, f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - t0
        # stored, alerted and mailed: never the URL's password or tokens
        shown, detail = redact_url(url), scrub(detail, url)
        return CheckResult(now, self.name, shown, status, elapsed, self._timeout, detail)

    def _http(self, url: str) -> str:
        response = httpx.get(url, timeout=self._timeout, follow_redirects=True)
        return f"HTTP {response.status_code}"

    def _tcp(self, url: str) -> str:
        parsed = urlparse(url)
        with socket.create_connection((parsed.hostname or "", parsed.port or 0), self._timeout):
            return "TCP connect ok"

"""The vendor REST clients against local fixture servers speaking the documented protocols:
pagination, 429 + Retry-After with the kernel backoff, malformed pages, refused credentials."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import formatdate

import httpx
import pytest

from pipeline.backfill.alpaca import AlpacaBars
from pipeline.backfill.coverage import Mark, uncovered
from pipeline.backfill.errors import VendorResponseError, VendorUnavailable
from pipeline.backfill.http import JsonGetter
from pipeline.backfill.interval import Span, span
from pipeline.backfill.pages import HistorySource as BarSource
from pipeline.backfill.polygon import PolygonBars
from tests.backfill.vendor_fixture import (
    ALPACA_KEY_ID,
    ALPACA_SECRET,
    POLYGON_KEY,
    Behaviour,
    VendorFixture,
    minute_bars,
)
from tickwatch.backoff import Backoff
from tickwatch.clock import ManualClock

START_MS = 1_793_629_800_000  # 2026-11-02 14:30 UTC
DAY = span("2026-11-02", "2026-11-02")


@pytest.fixture
def behaviour() -> Behaviour:
    return Behaviour(page_size=100)


@pytest.fixture
def server(behaviour: Behaviour) -> Iterator[VendorFixture]:
    fixture = VendorFixture(minute_bars(START_MS, 390), behaviour)
    yield fixture
    fixture.stop()


def getter(headers: dict[str, str], sleeps: list[float], retries: int = 3) -> JsonGetter:
    client = httpx.Client(timeout=10)
    return JsonGetter(
        client, Backoff(0.5, 4.0), retries, sleep=sleeps.append, clock=ManualClock(),
        headers=headers,
    )  # fmt: skip


def polygon(url: str, sleeps: list[float], key: str = POLYGON_KEY) -> PolygonBars:
    return PolygonBars(getter({"Authorization": f"Bearer {key}"}, sleeps), url, 50_000)


def alpaca(url: str, sleeps: list[float]) -> AlpacaBars:
    headers = {"APCA-API-KEY-ID": ALPACA_KEY_ID, "APCA-API-SECRET-KEY": ALPACA_SECRET}
    return AlpacaBars(getter(headers, sleeps), url, "iex", 10_000)


def all_bars(source: BarSource, window: Span = DAY) -> list[int]:
    return [b.ts for page in source.pages("AAPL", 60, window) for b in page.records]


@pytest.mark.parametrize("make", [polygon, alpaca])
def test_pagination_yields_every_bar_once_in_order(make, server: VendorFixture) -> None:  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    source = make(server.url, sleeps)
    pages = list(source.pages("AAPL", 60, DAY))
    ts = [b.ts for p in pages for b in p.records]
    assert len(pages) == 4  # 390 bars, 100 a page
    assert ts == sorted(set(ts)) and len(ts) == 390
    assert ts[0] == START_MS * 1000
    assert [p.covered_to_us for p in pages][:3] == [pages[i].records[-1].ts for i in range(3)]
    assert pages[-1].covered_to_us == DAY.hi_us
    assert pages[0].records[0].source == source.name and pages[0].records[0].interval_s == 60


@pytest.mark.parametrize("make", [polygon, alpaca])
def test_429_waits_retry_after_or_the_backoff_then_continues(  # type: ignore[no-untyped-def]
    make, server: VendorFixture, behaviour: Behaviour
) -> None:
    behaviour.rate_limit_requests = {2, 3}
    behaviour.retry_after = "2"
    sleeps: list[float] = []
    source = make(server.url, sleeps)
    assert len(all_bars(source)) == 390
    assert sleeps == [2.0, 2.0]  # Retry-After beats the backoff's 0.5 s and 1 s
    assert source._get.rate_limited == 2


def test_retry_after_as_an_http_date_is_waited_for(
    server: VendorFixture, behaviour: Behaviour
) -> None:
    clock = ManualClock()
    behaviour.rate_limit_requests = {1}
    behaviour.retry_after = formatdate(clock.time() + 7, usegmt=True)
    sleeps: list[float] = []
    headers = {"Authorization": f"Bearer {POLYGON_KEY}"}
    get = JsonGetter(
        httpx.Client(timeout=10), Backoff(0.5, 4.0), 3, sleep=sleeps.append, clock=clock,
        headers=headers,
    )  # fmt: skip
    assert len(all_bars(PolygonBars(get, server.url, 50_000))) == 390
    assert sleeps == [pytest.approx(7.0, abs=1.0)]


def test_rate_limit_that_never_ends_is_unavailable_naming_the_request(
    server: VendorFixture, behaviour: Behaviour
) -> None:
    behaviour.rate_limit_requests = set(range(1, 50))
    behaviour.retry_after = ""
    sleeps: list[float] = []
    with pytest.raises(VendorUnavailable) as caught:
        all_bars(polygon(server.url, sleeps))
    assert sleeps == [0.5, 1.0, 2.0]  # the kernel backoff, no Retry-After
    assert "GET http://127.0.0.1" in str(caught.value)
    assert "/v2/aggs/ticker/AAPL/range/1/minute/" in str(caught.value)
    assert caught.value.recoverable


@pytest.mark.parametrize("make", [polygon, alpaca])
def test_malformed_page_is_a_clear_error_without_the_key(  # type: ignore[no-untyped-def]
    make, server: VendorFixture, behaviour: Behaviour
) -> None:
    behaviour.malformed_request = 2
    with pytest.raises(VendorResponseError) as caught:
        all_bars(make(server.url, []))
    message = str(caught.value)
    assert "body is not JSON" in message and "GET http://127.0.0.1" in message
    for secret in (POLYGON_KEY, ALPACA_SECRET, ALPACA_KEY_ID):
        assert secret not in message


def test_refused_key_is_a_fatal_error_naming_the_request(server: VendorFixture) -> None:
    with pytest.raises(VendorResponseError) as caught:
        all_bars(polygon(server.url, [], key="wrong-key"))
    assert "HTTP 401" in str(caught.value) and "Unknown API Key" in str(caught.value)
    assert "wrong-key" not in str(caught.value)
    assert not caught.value.recoverable


def test_a_span_inside_a_day_gets_only_its_bars(server: VendorFixture) -> None:
    window = Span(START_MS * 1000 + 10 * 60_000_000, START_MS * 1000 + 19 * 60_000_000)
    assert len(all_bars(polygon(server.url, []), window)) == 10
    assert len(all_bars(alpaca(server.url, []), window)) == 10


def test_uncovered_cuts_out_every_mark() -> None:
    marks = [Mark("p", "A", 60, 10, 19), Mark("p", "A", 60, 15, 30), Mark("p", "A", 60, 50, 59)]
    assert uncovered(Span(0, 100), marks) == [Span(0, 9), Span(31, 49), Span(60, 100)]
    assert uncovered(Span(12, 25), marks) == []
    assert uncovered(Span(25, 55), marks) == [Span(31, 49)]
    assert uncovered(Span(0, 5), []) == [Span(0, 5)]

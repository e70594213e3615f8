"""The simulated feed: the default source, deterministic from a seed, from 1 to 200k+ ticks/s.

Settings used (``ingest.*``): ``seed``, ``symbols`` (realistic tickers across equities, ETFs,
indices, crypto and FX; or exactly ``symbol_list`` / ``symbols_file`` when set), ``rate``
(records per second over all symbols while everything trades), ``quote_ratio`` (quotes per
trade), ``trading_calendar`` (empty: everything trades around the clock; a calendar such as
``XNYS``: the feed follows the trading-hours model of :mod:`tickwatch.market_hours`, listed
instruments on that calendar, FX 24/5, crypto always) and ``anomalies``
(see :mod:`pipeline.sources.anomalies`). One-minute bars per symbol follow each minute's end.

Pacing: record ``i`` is due at ``start + i / rate`` on the injected clock. Each read hands out
what is due (at most ``max_batch`` rows); when the reader is slower than ``rate`` the feed
falls behind and catches up rather than dropping, so event times stay on schedule and the lag
shows up as end-to-end latency downstream. Between reads the feed waits as long as
``LOW_RATE_RECORDS`` (20) records take to come due, at least ``MIN_WAIT_S`` (10 ms) and at
most ``LOW_RATE_WAIT_S`` (100 ms): a quiet feed costs the ingest worker and the broker a fixed
amount per read (encode, one produce request per partition touched) at most 10 times a second
at 200 records/s (issue 18), while a busy one is read up to 100 times a second, so a tick waits
in the simulator about half of that (issue 14: 10 ms at 1k records/s, 5 ms from 2k, where a
fixed 50 ms cost 25 ms of every tick's latency).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from pipeline.codec import Payload
from pipeline.sources.anomalies import parse_anomalies
from pipeline.sources.market import MarketModel
from pipeline.sources.tape import Tape
from pipeline.sources.tickers import CLASSES
from pipeline.sources.universe import Universe, build_universe
from tickwatch.clock import Clock, SystemClock
from tickwatch.market_hours import InstrumentHours, TradingHours
from tickwatch.settings import IngestSettings

MIN_WAIT_S = 0.01  # at most ~100 batches (and read spans) a second
MAX_WAIT_S = 0.25
LOW_RATE_RECORDS = 20
LOW_RATE_WAIT_S = 0.1  # at most ~10 batches a second up to LOW_RATE_RECORDS / LOW_RATE_WAIT_S


def shortest_wait_s(rate: float) -> float:
    """The shortest wait between two reads at ``rate`` records/s: the time ``LOW_RATE_RECORDS``
    records take, between ``MIN_WAIT_S`` and ``LOW_RATE_WAIT_S``."""
    return max(MIN_WAIT_S, min(LOW_RATE_WAIT_S, LOW_RATE_RECORDS / rate))


class Simulator:
    """A :class:`~pipeline.sources.base.Source` of simulated market data.

    ``hours`` is the trading-hours model from the settings (``hours.*``), used when
    ``trading_calendar`` is set. Raises ``AnomalySpecError`` for a bad ``anomalies`` string and
    ``CalendarNameError`` for an unknown calendar (both ``ValueError``), at construction.
    """

    name = "simulator"

    def __init__(
        self,
        settings: IngestSettings,
        clock: Clock | None = None,
        max_batch: int = 20_000,
        hours: TradingHours | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock or SystemClock()
        self._max_batch = max_batch
        self._anomalies = parse_anomalies(settings.anomalies)
        model = None
        if settings.trading_calendar:
            model = (hours or TradingHours()).with_listed(
                settings.trading_calendar, "ingest.trading_calendar"
            )
        names = _symbol_names(settings)
        self.universe: Universe = build_universe(settings.symbols, settings.seed, names)
        classes = [CLASSES[c].value for c in self.universe.cls.tolist()]
        self._hours = InstrumentHours(model, classes, self.universe.exchange)
        self._closed = False

    def tape(self, start: float) -> Tape:
        """The feed from ``start`` (epoch seconds), read with :meth:`Tape.take`."""
        s = self._settings
        model = MarketModel(
            self.universe,
            seed=s.seed,
            rate=s.rate,
            quote_ratio=s.quote_ratio,
            start_us=int(start * 1e6),
            hours=self._hours,
            anomalies=self._anomalies,
        )
        return Tape(model, self.name)

    async def batches(self) -> AsyncIterator[Sequence[Payload]]:
        """Batches of due records until :meth:`aclose`; never ends on its own."""
        tape = self.tape(self._clock.time())
        shortest = shortest_wait_s(self._settings.rate)
        while not self._closed:
            now = self._clock.time()
            items, behind = tape.take(int(now * 1e6), self._max_batch)
            if items:
                yield items
            if not behind:
                wait = tape.next_due_us() / 1e6 - now
                await self._clock.sleep(min(MAX_WAIT_S, max(shortest, wait)))

    async def aclose(self) -> None:
        """Stop: the current ``batches()`` iteration ends at its next step."""
        self._closed = True


def _symbol_names(settings: IngestSettings) -> list[str]:
    """``symbol_list`` / ``symbols_file`` when set (read as for live feeds), else none."""
    if not settings.symbol_list.strip() and settings.symbols_file is None:
        return []
    from pipeline.sources.live.symbols import load_symbols

    return load_symbols(settings)

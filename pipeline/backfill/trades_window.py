"""Which part of a trades request may be backfilled: old enough, and not too old.

* Not older than the load worker's ``load.max_past_s`` (7 days by default): older trades would
  reach the dead-letter queue as ``too_old`` (bars have their own ``load.bar_max_past_s``), so
  such a request is refused up front, naming the setting.
* Ending :data:`~pipeline.backfill.gaps.GAP_SETTLE_S` before now: the natural-key filter
  (:mod:`pipeline.backfill.loaded`) sees what is loaded and what is in Kafka when the run
  starts, not a streamed trade of the last minutes produced while it runs. The rest of the
  request is dropped, and a later run continues from the watermark.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.backfill.errors import BackfillConfigError
from pipeline.backfill.gaps import GAP_SETTLE_S
from pipeline.backfill.interval import US, Span, iso


def trade_spans(spans: Sequence[Span], max_past_s: float, now_s: float) -> list[Span]:
    """``spans`` cut to end ``GAP_SETTLE_S`` before ``now_s``; BackfillConfigError for a span
    starting more than ``max_past_s`` ago."""
    oldest = int((now_s - max_past_s) * US)
    newest = int((now_s - GAP_SETTLE_S) * US)
    out = []
    for s in spans:
        if s.lo_us < oldest:
            raise BackfillConfigError(
                f"--what trades --from {iso(s.lo_us)}: older than load.max_past_s "
                f"({max_past_s:.0f} s, from {iso(oldest)}): the load worker would reject "
                "these trades as too_old; raise load.max_past_s for the load worker and here"
            )
        if s.lo_us <= newest:
            out.append(Span(s.lo_us, min(s.hi_us, newest)))
    return out

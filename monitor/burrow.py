"""Consumer-lag evaluation over a sliding window, after Burrow's rules (no fixed lag threshold).

Every ``lag_interval_s`` the detector samples, per partition, the group's committed offset and the
log-end offset. Over the last ``lag_window`` samples of one partition, in this order:

1. not a full window yet → OK (warming up);
2. the committed offset went backwards anywhere in the window → REWOUND (WARN): the group is
   re-reading data, usually after an offset reset or a botched deploy;
3. the lag was zero at any sample in the window → OK: the consumer caught up recently, which also
   covers a message that arrived just before the last sample (Burrow's false-"stopped" guard);
4. the committed offset did not move over the whole window while lag > 0 → CRIT: STOPPED when no
   live group member owns the partition (the consumer is gone), STALLED when one does (it is alive
   but not committing: stuck on a message, blocked on ClickHouse, deadlocked);
5. the committed offset moves, the lag grows from every sample to the next, and the oldest
   unprocessed message is older than the window itself → GROWING (WARN): the consumer works but
   does not keep up. The age condition is ours, not Burrow's: sampled lag of a healthy consumer
   that commits per batch is a random sawtooth, and five rising samples in a row happen by
   chance; a consumer really falling behind is soon further behind than the window is long;
6. otherwise OK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from tickwatch.types import Status


@dataclass(frozen=True, slots=True)
class OffsetSample:
    """One observation of one partition: when, the group's committed offset, the log end."""

    time: float
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


class LagVerdict(StrEnum):
    OK = "ok"
    WARMING = "warming up"
    REWOUND = "rewound"
    GROWING = "lag growing"
    STALLED = "stalled"
    STOPPED = "stopped"

    @property
    def status(self) -> Status:
        return _SEVERITY[self]


_SEVERITY = {
    LagVerdict.OK: Status.OK,
    LagVerdict.WARMING: Status.OK,
    LagVerdict.REWOUND: Status.WARN,
    LagVerdict.GROWING: Status.WARN,
    LagVerdict.STALLED: Status.CRIT,
    LagVerdict.STOPPED: Status.CRIT,
}


def evaluate(
    window: Sequence[OffsetSample], size: int, *, owned: bool, behind_s: float = float("inf")
) -> LagVerdict:
    """Apply the rules above to ``window`` (oldest first).

    ``owned``: a live group member owns the partition; ``behind_s``: age of the oldest
    unprocessed message at the last sample (unknown = infinite).
    """
    if len(window) < size:
        return LagVerdict.WARMING
    window = window[-size:]
    pairs = list(pairwise(window))
    if any(b.committed < a.committed for a, b in pairs):
        return LagVerdict.REWOUND
    if any(s.lag == 0 for s in window):
        return LagVerdict.OK
    if all(s.committed == window[0].committed for s in window):
        return LagVerdict.STALLED if owned else LagVerdict.STOPPED
    span = window[-1].time - window[0].time
    if all(b.lag > a.lag for a, b in pairs) and behind_s > span:
        return LagVerdict.GROWING
    return LagVerdict.OK

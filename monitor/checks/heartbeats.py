"""Worker heartbeats: is every expected service alive, and is every one of its instances?

Reads ``ops.heartbeats`` (one row per worker every ``telemetry.heartbeat_interval_s``). One row per
service (target = the service name), for every expected service and every service seen lately:

* CRIT — no instance heartbeat newer than ``heartbeat_timeout_s`` (including: never seen at all);
* WARN — alive, but an instance's last heartbeat says ``unhealthy`` (its own health callback);
* OK   — otherwise. Silent instances of a service that still has a live one are listed in the
  message but do not alert: heartbeats carry no clean-exit status, and a restarted worker leaves
  its old instance id behind. Instances silent for ``FORGET_FACTOR`` timeouts are forgotten.

After ClickHouse was unreachable (a read failed), heartbeats written meanwhile could not arrive:
until ClickHouse has answered for ``heartbeat_timeout_s`` again, a service without a fresh
heartbeat is UNKNOWN (state held), not CRIT, so an outage does not open one alert per service.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import WallClock, utc
from tickwatch.errors import ServiceUnavailable
from tickwatch.types import CheckResult, Status

FORGET_FACTOR = 20
HEALTHY = frozenset({"ok", ""})

Instance = tuple[str, float, str]  # instance, last heartbeat (epoch s), last status


class HeartbeatCheck:
    name = "heartbeat"
    depends_on = ("clickhouse_reachable",)

    def __init__(
        self,
        ch: ClickHouseHandle,
        ops_db: str,
        expected: list[str],
        *,
        timeout_s: float,
        interval_s: float,
        clock: WallClock,
    ) -> None:
        self._ch, self._db, self._expected = ch, ops_db, expected
        self._timeout = timeout_s
        self._horizon = FORGET_FACTOR * timeout_s
        self.interval_s = interval_s
        self._clock = clock
        self._unreachable = False
        self._back_since: float | None = None  # ClickHouse answers again since then

    def run(self) -> list[CheckResult]:
        """Grade every expected or recently seen service. Raises ServiceUnavailable."""
        now = self._clock.time()
        try:
            seen = self._instances(now)
        except ServiceUnavailable:  # the handle's "ClickHouse cannot be read"
            self._unreachable = True
            raise
        if self._unreachable:
            self._unreachable, self._back_since = False, now
        services = sorted(set(self._expected) | set(seen))
        return [self._settling(self._grade(s, seen.get(s, []), now)) for s in services]

    def _settling(self, r: CheckResult) -> CheckResult:
        """A CRIT judged on rows older than ClickHouse's return is UNKNOWN for one timeout."""
        back = self._back_since
        if r.status is not Status.CRIT or back is None or r.time - back >= self._timeout:
            return r
        waited = r.time - back
        return replace(
            r,
            status=Status.UNKNOWN,
            message=f"{r.message} (ClickHouse answers again "
            f"since {waited:.0f}s; waiting up to {self._timeout:.0f}s for heartbeats)",
        )

    def _instances(self, now: float) -> dict[str, list[Instance]]:
        sql = (
            "SELECT service, instance, toFloat64(max(time)), argMax(status, time) "
            f"FROM {self._db}.heartbeats WHERE time >= {{since:DateTime64(3, 'UTC')}} "
            "GROUP BY service, instance ORDER BY service, instance"
        )
        rows = self._ch.rows(sql, {"since": utc(now - self._horizon)})
        out: dict[str, list[Instance]] = defaultdict(list)
        for service, instance, last, status in rows:
            out[str(service)].append((str(instance), float(last), str(status)))
        return out

    def _grade(self, service: str, instances: list[Instance], now: float) -> CheckResult:
        fresh = [i for i in instances if now - i[1] <= self._timeout]
        newest = max((i[1] for i in instances), default=None)
        age = now - newest if newest is not None else -1.0
        if newest is None:
            status = Status.CRIT
            message = f"no heartbeat from {service} in the last {self._horizon:.0f}s"
        elif not fresh:
            status = Status.CRIT
            message = f"no live {service} worker: last heartbeat {age:.0f}s ago"
        elif unhealthy := [i for i in fresh if i[2] not in HEALTHY]:
            status = Status.WARN
            message = f"{service} worker(s) report unhealthy: " + ", ".join(i[0] for i in unhealthy)
        else:
            status = Status.OK
            message = f"{len(fresh)} {service} worker(s) alive"
        silent = [i for i in instances if now - i[1] > self._timeout]
        if silent and fresh:
            message += "; silent (replaced or stopped): " + ", ".join(
                f"{i[0]} ({now - i[1]:.0f}s)" for i in silent
            )
        return CheckResult(now, self.name, service, status, age, self._timeout, message)

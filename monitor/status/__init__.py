"""The detector's status page and JSON API, served from ``tickwatch monitor``.

``board.py`` (latest result per target) · ``history.py`` (ClickHouse reads) · ``incidents.py``
(alert episodes and their timelines) · ``view.py`` (one snapshot for page and API) ·
``models.py`` (API bodies) · ``app.py`` (routes, auth) · ``server.py`` (uvicorn thread,
discovery file) · ``client.py`` (for ``tickwatch silence`` and ``tickwatch up``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.silence_store import SilenceStore
from alerts.silences import parse_silences
from alerts.windows import parse_windows
from monitor.build_detector import MAINTENANCE_FILE
from monitor.status.board import CheckBoard, observed
from monitor.status.history import History
from monitor.status.view import Mutes, StatusView

if TYPE_CHECKING:
    from monitor.detector import Detector
    from monitor.status.server import StatusServer
    from tickwatch.chhandle import ClickHouseHandle
    from tickwatch.clock import WallClock
    from tickwatch.settings import Settings

__all__ = ["CheckBoard", "StatusView", "build_view", "observed", "start_status"]


def build_view(
    settings: Settings, detector: Detector, board: CheckBoard, ch: ClickHouseHandle,
    clock: WallClock,
) -> StatusView:  # fmt: skip
    """The view over this detector's state; raises SilenceSyntaxError on a bad mute setting."""
    a, state_dir = settings.alerts, settings.stack.state_dir
    mutes = Mutes(parse_silences(a.silences), parse_windows(a.maintenance_windows),
                  SilenceStore(state_dir), SilenceStore(state_dir, MAINTENANCE_FILE))  # fmt: skip
    history = History(ch, settings.clickhouse.ops_database, settings.clickhouse.market_database)
    writes = bool(settings.status.api_token.get_secret_value())
    return StatusView(board, detector.book, history, mutes, clock,
                      uptime_hours=settings.status.uptime_hours, writes_enabled=writes)  # fmt: skip


def start_status(settings: Settings, view: StatusView, clock: WallClock) -> StatusServer:
    """Serve the page and the API on ``status.host:status.port``; raises OSError."""
    from monitor.status.app import create_app
    from monitor.status.server import serve

    s = settings.status
    app = create_app(view, s.api_token, clock, refresh_s=s.refresh_s)
    return serve(app, s.host, s.port, settings.stack.state_dir)

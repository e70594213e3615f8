"""Text that goes into alert keys and email headers: no CR/LF, no control characters.

Alert keys are built from whatever the checks read (a heartbeat's ``service`` column, a topic
name, a URL); a CR/LF in one would end an email header early and make ``email`` refuse to build
the message. Every such value passes :func:`clean` first.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def clean(text: str, limit: int = 900) -> str:
    """``text`` with each run of control characters (CR, LF, TAB, NUL, ESC, ...) replaced by one
    space, stripped, and cut to ``limit`` characters."""
    return _CONTROL.sub(" ", text).strip()[:limit]

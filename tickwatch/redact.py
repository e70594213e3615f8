"""Show URLs without their secrets: the password in ``user:password@`` and secret-looking query
values (``token``, ``key``, ``secret``, ``password``, ``auth``, ``signature``...) become ``***``.

Probe targets pass through here before they are stored (``ops.health_checks``), become alert
keys, or appear in email subjects; every log message passes :func:`mask_urls` (a loguru patcher
set by ``tickwatch.telemetry.configure_logging``), so a library logging a request URL (httpx does,
at INFO) cannot leak one either. Pure functions, standard library only.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>]+")
_SECRET_PARAM = re.compile(
    r"token|key|secret|pass|pwd|auth|sig|credential|session|code", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """``url`` with its password and secret query values replaced by ``***``; else unchanged."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return MASK  # not a URL we can take apart: show nothing of it
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    if parts.username is not None:
        user = parts.username + (f":{MASK}" if parts.password is not None else "")
        netloc = f"{user}@{netloc}"
    query = [
        (key, MASK if _SECRET_PARAM.search(key) else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), ""))


def url_secrets(url: str) -> list[str]:
    """The secret pieces of ``url`` (password, secret query values), to scrub from messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [parts.password] if parts.password else []
    found += [
        value
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if value and _SECRET_PARAM.search(key)
    ]
    return found


def scrub(text: str, url: str) -> str:
    """``text`` (an error message about ``url``) with the URL and its secrets masked."""
    text = text.replace(url, redact_url(url))
    for secret in url_secrets(url):
        text = text.replace(secret, MASK)
    return text


def mask_urls(text: str) -> str:
    """Every URL in ``text`` that carries a user or a query, redacted (log messages)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: _masked(m.group(0)), text)


def _masked(url: str) -> str:
    return redact_url(url) if ("@" in url or "?" in url) else url

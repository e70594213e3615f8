"""The alerts package's exceptions: one root, recoverable and fatal kinds."""

from __future__ import annotations


class AlertError(Exception):
    """Root of every error the alerts package raises."""


class DeliveryFailed(AlertError):
    """One attempt to send a notification failed (recoverable: the outbox retries it)."""


class SilenceSyntaxError(AlertError):
    """A silence or maintenance-window spec cannot be parsed (fatal for that spec).

    The message names the setting, the offending entry and the expected syntax.
    """


class Undeliverable(AlertError):
    """A notification can never be sent as it is (it cannot be rendered into a valid message, or
    the server rejects it permanently); fatal for that notification only: the outbox quarantines
    it and goes on with the rest."""

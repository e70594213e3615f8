"""The alerts package's exceptions: one root, a recoverable and a fatal kind.

Recoverable errors (:class:`RecoverableAlertError`) are retried or skipped where they happen and
never stop the detector: an email that did not go out is retried by the outbox, an unreadable
silences file is ignored until it is fixed. Fatal ones (:class:`FatalAlertError`) mean this
configuration or input cannot work: the detector refuses to start, the CLI exits with the
message, which names the setting or entry at fault.
"""

from __future__ import annotations


class AlertError(Exception):
    """Root of every error the alerts package raises."""


class RecoverableAlertError(AlertError):
    """Something failed that may work on the next attempt; retried or skipped, never fatal."""


class FatalAlertError(AlertError):
    """This configuration or input cannot work; the message names what is wrong and where."""


class DeliveryFailed(RecoverableAlertError):
    """One attempt to send a notification failed (the outbox retries it)."""


class SilencesUnreadable(RecoverableAlertError):
    """The CLI's silences file cannot be read; its silences are ignored until it can be."""


class SilenceSyntaxError(FatalAlertError):
    """A silence or maintenance-window spec cannot be parsed (fatal for that spec).

    The message names the setting, the offending entry and the expected syntax.
    """


class AlertConfigError(FatalAlertError):
    """The alerting settings cannot work (no recipient, say); the message names the setting."""


class Undeliverable(FatalAlertError):
    """A notification can never be sent as it is (it cannot be rendered into a valid message, or
    the server rejects it permanently); fatal for that notification only: the outbox quarantines
    it and goes on with the rest."""

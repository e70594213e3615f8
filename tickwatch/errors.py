"""The kernel's exceptions: one root, a recoverable and a fatal kind.

Packages above the kernel (pipeline, monitor, alerts) keep their own roots; where one of their
errors means the same thing (a check that could not reach ClickHouse) it also derives from the
kernel kind, so one ``except`` catches both.
"""

from __future__ import annotations


class KernelError(Exception):
    """Root of every error the kernel (``tickwatch``) raises."""


class ServiceUnavailable(KernelError):
    """Kafka or ClickHouse did not answer (recoverable: retry later, report UNKNOWN meanwhile)."""


class KernelConfigError(KernelError):
    """The kernel cannot work with this configuration (fatal); the message names what is wrong."""

"""Compatibility: decoding and validation live in :mod:`pipeline.codec`. This module re-exports
the names other packages have imported from here."""

from pipeline.codec.decode import decode
from pipeline.codec.spec import FIELDS
from pipeline.codec.validate import REASONS, ValidationRules, validate

__all__ = ["FIELDS", "REASONS", "ValidationRules", "decode", "validate"]

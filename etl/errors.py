"""The two ways a source file fails its contract (docs/data-contracts.md): whole, or one row at a time."""

from __future__ import annotations


class EtlError(ValueError):
    """The file as a whole cannot be loaded (unreadable, a required column missing): nothing is written."""


class Reject(ValueError):  # noqa: N818 - a row verdict, raised inside row checks
    """One row breaks its contract; the message is the quarantine reason."""

"""Masking personal numbers (NIKs) wherever text may reach a log, an error or a screen."""

from __future__ import annotations

import re

__all__ = ["mask_nik", "redact_niks"]

_DIGIT_RUN = re.compile(r"[0-9]{12,}")


def mask_nik(value: str) -> str:
    """A value that may be a NIK, safe to show: ``3171012345678901`` -> ``3171********8901``.

    Values of 12 characters or more keep their first and last 4 (enough to tell which
    record a typo was made in), shorter ones are all ``*``.
    """
    if len(value) >= 12:
        return value[:4] + "********" + value[-4:]
    return "*" * len(value)


def redact_niks(text: str) -> str:
    """``text`` with every run of 12 or more digits masked by :func:`mask_nik`."""
    return _DIGIT_RUN.sub(lambda found: mask_nik(found.group()), text)

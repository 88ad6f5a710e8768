"""A person's name as input: validated, and masked wherever it is shown.

Names are personal data (the officer asking for consent, a KYC agent, a patient): every
message that quotes one shows it masked, ``Budi Santoso`` -> ``B*** S******``.
"""

from __future__ import annotations

import re

from satusehat_async.errors import ValidationError

__all__ = ["MAX_NAME_LENGTH", "mask_name", "validate_person_name"]

MAX_NAME_LENGTH = 200
"""The longest name accepted (SATUSEHAT documents none; longer input is a mistake)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def mask_name(name: str) -> str:
    """``name`` safe to show: each word keeps its first letter (``B*** S******``)."""
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in name.split())


def validate_person_name(value: object, *, what: str) -> str:
    """Return the name (surrounding spaces removed) or raise :class:`ValidationError`.

    ``what`` names the value in the message (``"agent"``); the name itself is masked.
    """
    if not isinstance(value, str):
        raise ValidationError(
            f"{what} must be a person's name (a string), not {type(value).__name__}"
        )
    name = value.strip()
    if not name:
        raise ValidationError(f"{what} must be a person's name, not empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"{what} {mask_name(name)!r} is {len(name)} characters long (at most {MAX_NAME_LENGTH})"
        )
    if _CONTROL.search(name):
        raise ValidationError(f"{what} {mask_name(name)!r} contains control characters")
    return name

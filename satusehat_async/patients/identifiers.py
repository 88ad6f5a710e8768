"""SATUSEHAT's patient identifiers: NIK, the mother's NIK for a newborn, the IHS number.

A NIK (Nomor Induk Kependudukan) is 16 digits: province (2), regency/city (2), district
(2), birth date (6, day + 40 for women) and a serial (4). :func:`validate_nik` checks
what holds for every NIK ever issued — 16 ASCII digits, a province code of at least 11
(Kemendagri codes start at 11, Aceh), a serial other than ``0000``, and not one digit
repeated — and leaves the birth-date segment alone, because the official documents'
own example NIK does not hold a valid date.

A NIK is personal data: no error message of this package carries a whole one. A rejected
value is shown as :func:`mask_nik` makes it (``3171********0001``), and free text that may
hold one (a server's message, a command-line argument) goes through :func:`redact_niks`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from satusehat_async.errors import ValidationError
from satusehat_async.patients.datatypes import Identifier
from satusehat_async.redact import mask_nik, redact_niks

__all__ = [
    "IHS_NUMBER_SYSTEM",
    "NIK_IBU_SYSTEM",
    "NIK_SYSTEM",
    "find_identifier",
    "identifier_token",
    "ihs_number_identifier",
    "is_masked",
    "is_valid_nik",
    "mask_nik",
    "nik_ibu_identifier",
    "nik_identifier",
    "parse_identifier_token",
    "redact_niks",
    "validate_ihs_number",
    "validate_nik",
]

#: The national identity number (unique per person).
NIK_SYSTEM = "https://fhir.kemkes.go.id/id/nik"
#: The mother's NIK, identifying a newborn without its own; twins share it.
NIK_IBU_SYSTEM = "https://fhir.kemkes.go.id/id/nik-ibu"
#: The SATUSEHAT patient number (the Patient's id): ``P`` and 11 digits.
IHS_NUMBER_SYSTEM = "https://fhir.kemkes.go.id/id/ihs-number"

_NIK = re.compile(r"[0-9]{16}")
_IHS_NUMBER = re.compile(r"P[0-9]{11}")
# A run of digits long enough to be a NIK, or most of one (an IHS number has 11 digits).


def _shown_token(token: str) -> str:
    system, sep, value = token.partition("|")
    if sep:
        return f"{redact_niks(system)}|{mask_nik(value)}"
    # no "|": a system URL alone, or (more likely to be personal) a bare value
    return redact_niks(token) if "://" in token else mask_nik(token)


def _nik_problem(nik: str) -> str | None:
    if not _NIK.fullmatch(nik):
        return "must be exactly 16 digits"
    if int(nik[:2]) < 11:
        return f"province code {nik[:2]} does not exist (codes start at 11)"
    if nik[-4:] == "0000":
        return "serial number 0000 is never issued"
    if len(set(nik)) == 1:
        return "is one digit repeated"
    return None


def validate_nik(nik: object, *, what: str = "NIK") -> str:
    """Return the NIK (surrounding spaces removed) or raise :class:`ValidationError`.

    ``what`` names the value in the message (``"NIK-ibu"`` for a mother's NIK).
    """
    if not isinstance(nik, str):
        raise ValidationError(f"{what} must be a string of 16 digits, not {type(nik).__name__}")
    value = nik.strip()
    problem = _nik_problem(value)
    if problem:
        raise ValidationError(
            f"invalid {what} {mask_nik(value)!r} ({len(value)} characters): {problem}"
        )
    return value


def is_valid_nik(nik: object) -> bool:
    """Whether ``nik`` passes :func:`validate_nik` (without surrounding spaces)."""
    return isinstance(nik, str) and _nik_problem(nik) is None


def validate_ihs_number(value: object) -> str:
    """Return the IHS number (``P`` + 11 digits) or raise :class:`ValidationError`."""
    if not isinstance(value, str) or not _IHS_NUMBER.fullmatch(value.strip()):
        shown = repr(mask_nik(value.strip())) if isinstance(value, str) else type(value).__name__
        raise ValidationError(f"invalid IHS number {shown}: must be 'P' followed by 11 digits")
    return value.strip()


def is_masked(value: str | None) -> bool:
    """Whether a value came back masked from a search (``################``, ``Sa** An**``)."""
    return value is not None and ("#" in value or "*" in value)


def nik_identifier(nik: str, *, use: str = "official") -> Identifier:
    """The Identifier for a patient's own NIK (validated)."""
    return Identifier(use=use, system=NIK_SYSTEM, value=validate_nik(nik))


def nik_ibu_identifier(nik: str, *, use: str = "official") -> Identifier:
    """The Identifier for a newborn: its mother's NIK (validated)."""
    return Identifier(use=use, system=NIK_IBU_SYSTEM, value=validate_nik(nik, what="NIK-ibu"))


def ihs_number_identifier(ihs_number: str, *, use: str = "official") -> Identifier:
    """The Identifier carrying a SATUSEHAT IHS number (validated)."""
    return Identifier(use=use, system=IHS_NUMBER_SYSTEM, value=validate_ihs_number(ihs_number))


def identifier_token(system: str, value: str) -> str:
    """A FHIR token search value: ``system|value``."""
    return f"{system}|{value}"


def parse_identifier_token(token: str) -> tuple[str, str]:
    """Split ``system|value`` (raises :class:`ValidationError` without both parts)."""
    if not isinstance(token, str):
        raise ValidationError(
            f"identifier must be a 'system|value' string, not {type(token).__name__}"
        )
    system, sep, value = token.partition("|")
    if not sep or not system or not value:
        raise ValidationError(f"identifier must be 'system|value', got {_shown_token(token)!r}")
    return system, value


def find_identifier(identifiers: Iterable[Identifier] | None, system: str) -> str | None:
    """The value of the first identifier with this ``system`` (None if there is none)."""
    for identifier in identifiers or ():
        if identifier.system == system and identifier.value:
            return identifier.value
    return None

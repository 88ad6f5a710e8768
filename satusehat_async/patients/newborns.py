"""Newborns registered by their mother's NIK: the birth order, and telling babies apart.

Twins share their mother's NIK, their birth date and often a placeholder name (``Bayi
Ny. Siti``), and the MPI keeps no uniqueness for a mother's NIK: the birth order is what
tells them apart. The MPI documents make ``multipleBirthInteger`` mandatory for a newborn:

- ``multipleBirthInteger: 0`` — a single birth (what the documents send, and what
  SATUSEHAT stores for most babies). ``multipleBirthBoolean: false`` says the same and
  is sent as ``multipleBirthInteger: 0``. A single birth matches a record stored as one
  (``0``, ``false``) or stored without any order; never a record with an order ``N``
  (that is one of twins, not this baby);
- ``multipleBirthInteger`` 1, 2, ... — one of twins (or more), in birth order. It matches
  only a record with that same order: never a sibling's, and never a single birth's or
  one without an order (such a record is not provably this baby).

Anything else — no ``multipleBirth[x]``, a negative ``multipleBirthInteger``,
``multipleBirthBoolean: true`` (a multiple birth, but which baby?), or both elements at
once — is refused with :class:`ValidationError` before anything is sent.
"""

from __future__ import annotations

import msgspec

from satusehat_async.errors import ValidationError
from satusehat_async.patients.datatypes import HumanName
from satusehat_async.patients.models import Patient

__all__ = ["check_birth_order", "newborn_matches", "single_birth_as_integer"]

SINGLE_BIRTH = 0

_ORDER_HELP = (
    "multipleBirthInteger 0 (a single birth, as the MPI documents send it; "
    "multipleBirthBoolean false says the same) or 1, 2, ... (the birth order of twins or more)"
)


def check_birth_order(patient: Patient) -> None:
    """Refuse a newborn whose ``multipleBirth[x]`` does not say which baby it is."""
    integer, boolean = patient.multiple_birth_integer, patient.multiple_birth_boolean
    if integer is not None and boolean is not None:
        raise ValidationError(
            "multipleBirth[x] is one element: give multipleBirthInteger or "
            "multipleBirthBoolean, not both"
        )
    if integer is not None and (
        isinstance(integer, bool) or not isinstance(integer, int) or integer < 0
    ):
        raise ValidationError(f"multipleBirthInteger {integer!r} is no birth order ({_ORDER_HELP})")
    if boolean is True:
        raise ValidationError(
            "multipleBirthBoolean true says one of twins (or more) but not which: give "
            "the birth order as multipleBirthInteger 1, 2, ..."
        )
    if integer is None and boolean is None:
        raise ValidationError(
            f"a newborn registered by its mother's NIK needs a birth order: {_ORDER_HELP}. "
            "Twins share the mother's NIK, the birth date and often a placeholder name "
            "like 'Bayi Ny. Siti'; without it they cannot be told apart"
        )


def single_birth_as_integer(patient: Patient) -> Patient:
    """``multipleBirthBoolean: false`` as the documented ``multipleBirthInteger: 0``."""
    if patient.multiple_birth_boolean is not False:
        return patient
    return msgspec.structs.replace(
        patient,
        multiple_birth_boolean=None,
        multiple_birth_boolean_ext=None,
        multiple_birth_integer=SINGLE_BIRTH,
        multiple_birth_integer_ext=patient.multiple_birth_boolean_ext,
    )


def _birth_order(patient: Patient) -> int | None:
    """What ``multipleBirth[x]`` says, as one number.

    The order N (1, 2, ...) of one of twins or more; ``0`` a single birth
    (``multipleBirthInteger: 0`` or ``multipleBirthBoolean: false``); ``-1`` a multiple
    birth without an order (``multipleBirthBoolean: true``); ``None`` nothing.
    """
    integer = patient.multiple_birth_integer
    if integer is not None and not isinstance(integer, bool) and integer >= 0:
        return integer
    if patient.multiple_birth_boolean is not None:
        return -1 if patient.multiple_birth_boolean else SINGLE_BIRTH
    return None


def _orders_match(wanted: int | None, found: int | None) -> bool:
    if wanted is None or wanted == SINGLE_BIRTH:
        # A single birth (or, refused by plan_create, nothing said): the record stored as
        # one, or stored without any order; never one of twins.
        return found in (SINGLE_BIRTH, None)
    # One of twins (N), or of a multiple birth without order (-1, refused by plan_create):
    # only that very order. A record without one is not provably this baby.
    return wanted >= 1 and found == wanted


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def _name_keys(names: list[HumanName] | None) -> set[str]:
    keys: set[str] = set()
    for name in names or ():
        if name.text:
            keys.add(_normal(name.text))
        given = [g for g in name.given or () if g]
        family = [name.family] if name.family else []
        if given or family:
            keys.add(_normal(" ".join(given + family)))
            keys.add(_normal(" ".join(family + given)))
    keys.discard("")
    return keys


def newborn_matches(candidate: Patient, wanted: Patient) -> bool:
    """Whether ``candidate`` (one of a mother's babies) is the newborn ``wanted``.

    Same birth date; a name in common (text, or given+family in either order, compared
    without case and extra spaces; not compared when ``wanted`` has none); the same birth
    order (see the module documentation: an order N matches only N, a single birth
    matches a single birth or a record without an order); and, where both carry one, the
    same gender (SATUSEHAT's answers carry none).
    """
    if candidate.birth_date != wanted.birth_date:
        return False
    wanted_names = _name_keys(wanted.name)
    if wanted_names and not wanted_names & _name_keys(candidate.name):
        return False
    if not _orders_match(_birth_order(wanted), _birth_order(candidate)):
        return False
    return not (wanted.gender and candidate.gender and wanted.gender != candidate.gender)

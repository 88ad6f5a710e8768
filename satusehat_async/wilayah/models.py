"""The typed region (:class:`Region`), the v2 envelope, and the code rules.

Kemendagri region codes nest: a province has 2 digits, a regency/city (``kabkota``) 4, a
district (``kecamatan``) 6 and a village (``kelurahan``/``desa``) 10, each starting with
its parent's code (``reference/satusehat-clinical.md`` §8.1).
"""

from __future__ import annotations

import re

import msgspec

from satusehat_async.errors import ValidationError

__all__ = ["CODE_LENGTHS", "LEVELS", "Region", "validate_region_code"]

LEVELS = ("provinces", "cities", "districts", "sub-districts")
"""The levels by their URL names, largest first."""

CODE_LENGTHS = {"provinces": 2, "cities": 4, "districts": 6, "sub-districts": 10}
"""The code length of each level."""

_WHAT = {
    "provinces": "province",
    "cities": "city (kabkota)",
    "districts": "district (kecamatan)",
    "sub-districts": "village (kelurahan/desa)",
}


class Region(msgspec.Struct, frozen=True, kw_only=True):
    """One region: its Kemendagri ``code``, its parent's (``""`` for a province), the BPS
    (statistics office) code (often different below province level; ``""`` when there is
    none) and its ``name``."""

    code: str
    parent_code: str = ""
    bps_code: str = ""
    name: str = ""


class _Row(msgspec.Struct, kw_only=True):
    # lenient: a null or missing field is read as ""
    code: str | None = None
    parent_code: str | None = None
    bps_code: str | None = None
    name: str | None = None

    def region(self) -> Region:
        return Region(
            code=self.code or "",
            parent_code=self.parent_code or "",
            bps_code=self.bps_code or "",
            name=self.name or "",
        )


class PageInfo(msgspec.Struct, kw_only=True):
    """``meta.page`` of a v2 answer."""

    current: int = 0
    total_page: int = 0
    total: int = 0


class Cursors(msgspec.Struct, kw_only=True):
    """``meta.cursors``: base64 of the page's last (``next``) and first (``previous``) code."""

    next: str | None = None
    previous: str | None = None


class Meta(msgspec.Struct, kw_only=True):
    """``meta`` of a v2 answer (v1 answers have none)."""

    item_count: int = 0
    page: PageInfo = msgspec.field(default_factory=PageInfo)
    cursors: Cursors = msgspec.field(default_factory=Cursors)


class Envelope(msgspec.Struct, kw_only=True):
    """``{"status", "error", "message", "data", "meta"}``."""

    status: int | None = None
    error: bool | None = None
    message: str | None = None
    data: list[_Row] | None = None
    meta: Meta | None = None

    def regions(self) -> list[Region]:
        """The page's regions."""
        return [row.region() for row in self.data or ()]


ENVELOPE = msgspec.json.Decoder(Envelope)


def validate_region_code(value: object, level: str, *, name: str | None = None) -> str:
    """The code of a ``level`` region as a string of its length, or ValidationError.

    ``name`` is how the message calls the value (``"kode_kabkota"``); an int is accepted.
    """
    length = CODE_LENGTHS[level]
    label = name or f"{_WHAT[level]} code"
    usable = isinstance(value, (str, int)) and not isinstance(value, bool)
    text = str(value).strip() if usable else ""
    if not re.fullmatch(rf"[0-9]{{{length}}}", text):
        shown = repr(value) if isinstance(value, (str, int)) else type(value).__name__
        raise ValidationError(f"{label} must be {length} digits, got {shown}")
    return text

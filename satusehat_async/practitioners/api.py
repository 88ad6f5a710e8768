"""``client.practitioners``: health workers looked up by NIK, cached and single-flight.

SATUSEHAT's Practitioner registry is filled from the health-worker registries; a
facility looks its staff up to get their IHS number (``Practitioner/{ihs}``, the
reference every Encounter participant and Observation performer carries)::

    doctor = await client.practitioners.by_nik("7209061211900001")
    doctor.ihs_number  # '10009880728' (None: SATUSEHAT knows no practitioner by that NIK)

The answers are stable, so :meth:`Practitioners.by_nik` keeps them for ``ttl`` (default
an hour; an unknown NIK for ``miss_ttl``, default 5 minutes) in the client, measured by
the client's monotonic clock, and concurrent look-ups of one NIK share one request.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import TYPE_CHECKING

import msgspec

from satusehat_async.context import context_of
from satusehat_async.errors import AmbiguousMatchError, ValidationError
from satusehat_async.patients.identifiers import validate_nik
from satusehat_async.practitioners.cache import LookupCache
from satusehat_async.practitioners.models import NIK_SYSTEM, Practitioner
from satusehat_async.redact import mask_nik, redact_niks
from satusehat_async.resource.api import ResourceAPI
from satusehat_async.resource.kinds import check_id

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient
    from satusehat_async.context import ResourceContext

__all__ = ["GENDERS", "Practitioners"]

#: The genders a Practitioner search takes (SATUSEHAT documents these two).
GENDERS = ("male", "female")
_BIRTHDATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
_encode = msgspec.json.Encoder(decimal_format="number").encode
_decode = msgspec.json.Decoder(Practitioner).decode
logger = logging.getLogger("satusehat_async.practitioners")


def _copy(found: Practitioner | None) -> Practitioner | None:
    # every caller gets its own object: a caller changing it never changes the cache
    return None if found is None else _decode(_encode(found))


def _birthdate(value: object) -> str:
    if isinstance(value, dt.datetime):
        raise ValidationError("birthdate is a date (YYYY, YYYY-MM or YYYY-MM-DD), not a datetime")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _BIRTHDATE.fullmatch(value):
        return value
    raise ValidationError(f"birthdate must be YYYY, YYYY-MM or YYYY-MM-DD, got {value!r:.12}")


class Practitioners:
    """Practitioners (health workers) of SATUSEHAT: by NIK, by IHS number, by name.

    Built once per client (``client.practitioners``), so its cache lives as long as the
    client. ``ttl`` / ``miss_ttl`` may be changed at any time (``client.practitioners.ttl
    = 600``); :attr:`cache` has the counters and ``clear()``.
    """

    def __init__(
        self,
        context: ResourceContext | SatuSehatClient,
        *,
        ttl: float = 3600.0,
        miss_ttl: float = 300.0,
        max_entries: int = 10_000,
    ) -> None:
        self._context = context_of(context)
        # read at each use: tests swap the client's clock after construction
        self.cache: LookupCache[Practitioner] = LookupCache(
            lambda: self._context.monotonic(), ttl=ttl, miss_ttl=miss_ttl, max_entries=max_entries
        )
        self._api: ResourceAPI[Practitioner] = ResourceAPI(self._context, Practitioner)

    def __repr__(self) -> str:
        return f"Practitioners({self._api.url!r}, {self.cache!r})"

    @property
    def ttl(self) -> float:
        """Seconds a practitioner found is served from memory (default 3600)."""
        return self.cache.ttl

    @ttl.setter
    def ttl(self, value: float) -> None:
        self.cache.ttl = value

    @property
    def miss_ttl(self) -> float:
        """Seconds an unknown NIK is remembered as unknown (default 300)."""
        return self.cache.miss_ttl

    @miss_ttl.setter
    def miss_ttl(self, value: float) -> None:
        self.cache.miss_ttl = value

    async def by_nik(self, nik: str) -> Practitioner | None:
        """The practitioner with this NIK, or None when SATUSEHAT knows none.

        ``GET Practitioner?identifier=https://fhir.kemkes.go.id/id/nik|{nik}``, once per
        NIK per ``ttl`` however many callers ask at once. The NIK is validated first
        (:class:`ValidationError`, nothing sent) and masked in every message and log.
        The answer's NIK may itself be masked: the match is the server's.

        Raises:
            AmbiguousMatchError: several practitioners answer the NIK.
        """
        value = validate_nik(nik)
        found = await self.cache.get(f"nik:{value}", lambda: self._fetch_nik(value))
        return _copy(found)

    async def _fetch_nik(self, nik: str) -> Practitioner | None:
        logger.debug("looking up the practitioner with NIK %s", mask_nik(nik))
        matches = await self._api.search(identifier=f"{NIK_SYSTEM}|{nik}").all()
        # a record showing another NIK unmasked is not a match (a server ignoring the
        # parameter would list everyone); a masked one is taken on the server's word
        candidates = {p.id or "": p for p in matches if p.nik in (None, nik)}
        if len(candidates) > 1:
            raise AmbiguousMatchError(sorted(candidates), newborn=False, after=None)
        return next(iter(candidates.values()), None)

    async def get(self, ihs_number: str) -> Practitioner:
        """The practitioner with this IHS number (``GET Practitioner/{id}``), cached like
        :meth:`by_nik`; :class:`~satusehat_async.errors.NotFoundError` if there is none."""
        resource_id = check_id("Practitioner", ihs_number)
        found = await self.cache.get(f"id:{resource_id}", lambda: self._api.get(resource_id))
        assert found is not None  # a read returns the resource or raises
        copied = _copy(found)
        assert copied is not None
        return copied

    async def search(
        self, *, name: str, birthdate: str | dt.date, gender: str
    ) -> list[Practitioner]:
        """Practitioners by name, birth date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) and
        gender, the three together as SATUSEHAT requires; not cached."""
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("name must be a non-empty string")
        if gender not in GENDERS:
            raise ValidationError(
                f"gender must be one of {', '.join(GENDERS)}; got {redact_niks(repr(gender))}"
            )
        query = {"name": " ".join(name.split()), "birthdate": _birthdate(birthdate)}
        return await self._api.search(query, gender=gender).all()

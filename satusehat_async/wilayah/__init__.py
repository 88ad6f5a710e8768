"""The Kemendagri region codes (master wilayah v2), cached in the client.

>>> provinces = await client.wilayah.provinces()            # doctest: +SKIP
>>> [c.name for c in await client.wilayah.cities("31")]      # doctest: +SKIP
['Kab. Adm. Kepulauan Seribu', 'Kota Adm. Jakarta Selatan', ...]
>>> await client.wilayah.check(kode_kabkota="3171", kode_kecamatan="317101")  # doctest: +SKIP

Each list comes from ``GET {base}/masterdata/v2/{provinces|cities|districts|sub-districts}``
with its cursor paging followed to the last page (``current_page=n+1&next=<cursor>``,
stopping when ``meta.page.current >= total_page``; ``reference/satusehat-clinical.md``
§8.2), once per client: the lists are cached for the client's lifetime (region codes
change with a law, not by the hour) and concurrent callers of one list share one crawl.
Codes are validated (2/4/6/10 digits) before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from satusehat_async.context import KeyedLocks, context_of
from satusehat_async.errors import APIError, ValidationError
from satusehat_async.wilayah.address import ADMINISTRATIVE_CODE_URL, administrative_codes
from satusehat_async.wilayah.models import (
    CODE_LENGTHS,
    ENVELOPE,
    LEVELS,
    Envelope,
    Region,
    validate_region_code,
)

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext
    from satusehat_async.http.response import Response

__all__ = ["ADMINISTRATIVE_CODE_URL", "CODE_LENGTHS", "Region", "Wilayah", "validate_region_code"]

# check()'s arguments, largest first, with the level each one names
_CHECKED = (
    ("kode_provinsi", "provinces"),
    ("kode_kabkota", "cities"),
    ("kode_kecamatan", "districts"),
    ("kode_kelurahan", "sub-districts"),
)
_PARENT_PARAM = {
    "cities": "province_codes",
    "districts": "city_codes",
    "sub-districts": "district_codes",
}
_MAX_LIMIT = 2000


class Wilayah:
    """``client.wilayah``: provinces, cities, districts and villages, cached per client.

    ``page_size`` sends the (undocumented) ``limit`` parameter (at most 2000) for fewer
    pages; None (the default) leaves the platform's 10 per page.
    """

    def __init__(self, context: ResourceContext, *, page_size: int | None = None) -> None:
        if page_size is not None and not 1 <= page_size <= _MAX_LIMIT:
            raise ValidationError(f"page_size must be 1 to {_MAX_LIMIT}, got {page_size!r}")
        self._context = context_of(context)
        self.page_size = page_size
        self._cache: dict[str, list[Region]] = {}
        self._locks = KeyedLocks()

    def clear_cache(self) -> None:
        """Forget every list fetched (the next call crawls again)."""
        self._cache.clear()

    async def provinces(self) -> list[Region]:
        """Every province (38), sorted by code."""
        return await self._list("provinces", None)

    async def cities(self, province_code: str | int) -> list[Region]:
        """The regencies and cities (``kabkota``, 4 digits) of a province (2 digits)."""
        return await self._list("cities", validate_region_code(province_code, "provinces"))

    async def districts(self, city_code: str | int) -> list[Region]:
        """The districts (``kecamatan``, 6 digits) of a regency/city (4 digits)."""
        return await self._list("districts", validate_region_code(city_code, "cities"))

    async def sub_districts(self, district_code: str | int) -> list[Region]:
        """The villages (``kelurahan``/``desa``, 10 digits) of a district (6 digits)."""
        return await self._list("sub-districts", validate_region_code(district_code, "districts"))

    async def _list(self, level: str, parent: str | None) -> list[Region]:
        key = f"{level}:{parent or ''}"
        cached = self._cache.get(key)
        if cached is None:
            async with self._locks.hold(key):  # single flight: one crawl per list
                cached = self._cache.get(key)
                if cached is None:
                    cached = self._cache[key] = await self._crawl(level, parent)
        return list(cached)

    async def _crawl(self, level: str, parent: str | None) -> list[Region]:
        """Every page of one list, following the cursors to the last page."""
        url = f"{self._context.endpoints.base_url.rstrip('/')}/masterdata/v2/{level}"
        base: dict[str, Any] = {} if parent is None else {_PARENT_PARAM[level]: parent}
        if self.page_size is not None:
            base["limit"] = self.page_size
        found: dict[str, Region] = {}
        page, cursor, last_page = 1, None, None
        while True:
            params = {"current_page": page, **base}
            if cursor:
                params["next"] = cursor
            envelope = _envelope(await self._context.send("GET", url, params=params))
            rows = envelope.regions()
            for region in rows:
                found.setdefault(region.code, region)
            meta = envelope.meta
            if meta is None:  # a v1-style answer: everything at once
                break
            current = meta.page.current or page
            last_page = meta.page.total_page if last_page is None else last_page
            if current >= meta.page.total_page:
                break
            if not rows or not meta.cursors.next or page > last_page:
                raise APIError(
                    f"master wilayah {level} paging stopped at page {page} of "
                    f"{meta.page.total_page} (no rows or no next cursor)",
                    status=200,
                    url=url,
                )
            page, cursor = current + 1, meta.cursors.next
        return sorted(found.values(), key=lambda region: region.code)

    async def check(
        self,
        *,
        kode_provinsi: str | int | None = None,
        kode_kabkota: str | int | None = None,
        kode_kecamatan: str | int | None = None,
        kode_kelurahan: str | int | None = None,
    ) -> list[Region]:
        """Check that each given code exists (and nests in the others); its Regions.

        The names are those of the MSI filters (``client.msi.facilities(kode_kabkota=...)``).
        Raises ValidationError — before anything is sent for a malformed or mis-nested
        code, after looking it up for one that does not exist. Returns the Regions found,
        largest first.
        """
        given = {
            "kode_provinsi": kode_provinsi,
            "kode_kabkota": kode_kabkota,
            "kode_kecamatan": kode_kecamatan,
            "kode_kelurahan": kode_kelurahan,
        }
        return await self._check(given)

    async def _check(self, given: Mapping[str, object]) -> list[Region]:
        codes = _checked_codes(given)
        if not codes:
            raise ValidationError("check() needs at least one region code")
        regions = []
        for name, level, code in codes:
            regions.append(await self._lookup(name, level, code))
        return regions

    async def _lookup(self, name: str, level: str, code: str) -> Region:
        index = LEVELS.index(level)
        parent = code[: CODE_LENGTHS[LEVELS[index - 1]]] if index else None
        for region in await self._list(level, parent):
            if region.code == code:
                return region
        where = f" in {parent}" if parent else ""
        raise ValidationError(f"{name} {code} does not exist{where}")

    async def check_address(self, address: object, *, complete: bool = True) -> list[Region]:
        """Check the ``administrativeCode`` extension of a Patient/Organization/Location
        address (a ``satusehat_async.fhir.Address`` or its JSON dict).

        ``complete``: province, city, district and village must all be there. Raises
        ValidationError as :meth:`check` does; returns the Regions, largest first.
        """
        codes = administrative_codes(address, complete=complete)
        return await self._check({name: codes.get(name) for name, _ in _CHECKED})


def _checked_codes(given: Mapping[str, object]) -> list[tuple[str, str, str]]:
    """``(name, level, code)`` of the given codes, validated and nested; nothing sent."""
    codes = [
        (name, level, validate_region_code(given[name], level, name=name))
        for name, level in _CHECKED
        if given[name] is not None
    ]
    for i, (outer, _, outer_code) in enumerate(codes):
        for inner, _, inner_code in codes[i + 1 :]:
            if not inner_code.startswith(outer_code):
                raise ValidationError(f"{inner} {inner_code} is not in {outer} {outer_code}")
    return codes


def _envelope(response: Response) -> Envelope:
    try:
        envelope = ENVELOPE.decode(response.body)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise APIError(
            f"undecodable master wilayah answer: {exc}",
            status=response.status,
            request_id=response.request_id,
            url=response.url,
        ) from None
    if envelope.error:
        raise APIError(
            envelope.message or "master wilayah error",
            status=envelope.status or response.status,
            request_id=response.request_id,
            url=response.url,
        )
    return envelope

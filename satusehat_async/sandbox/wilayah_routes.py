"""The sandbox's master wilayah endpoints: v2 (cursor paging) and v1 (no paging).

``GET /masterdata/v2/{provinces|cities|districts|sub-districts}`` with ``current_page``
(required), ``province_codes``/``city_codes``/``district_codes`` (the parents), ``codes``,
``next``/``prev`` cursors and a hidden ``limit`` (10 by default, at most 2000), answered in
the documented envelope (``reference/satusehat-clinical.md`` §8.2)::

    {"status":200,"error":false,"message":"success","data":[...],
     "meta":{"item_count":10,"page":{"is_cursor":true,"current":1,"previous":0,"next":2,
             "limit":10,"total_page":51,"total":514},
             "cursors":{"next":"<base64 of the page's last code>",
                        "previous":"<base64 of its first code>"}}}

A ``next`` cursor answers the rows after its code, a ``prev`` cursor the ``limit`` rows
before it; without one, ``current_page`` picks the page. ``meta.page.next`` is always
``current + 1`` (as documented, even on the last page). Errors use the other envelope:
``{"status_code":400,"message":"limit cannot be more than 2000","data":null}``.

``GET /masterdata/v1/...`` answers every match at once (no ``meta``) and requires its filter:
``codes`` for provinces, the parents' codes below.

The data is :class:`~satusehat_async.sandbox.wilayah_data.WilayahData`, kept in
``sandbox.extensions["wilayah"]`` with the log of the queries served (``.queries``).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import math
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from satusehat_async.sandbox.wilayah_data import LEVELS, Row, WilayahData

if TYPE_CHECKING:
    from multidict import MultiMapping

    from satusehat_async.sandbox.server import LocalSandbox

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "WilayahService", "add_routes", "wilayah_service"]

DEFAULT_LIMIT = 10
MAX_LIMIT = 2000
_PARENTS = {
    "provinces": None,
    "cities": "province_codes",
    "districts": "city_codes",
    "sub-districts": "district_codes",
}
_V1_REQUIRED = {**_PARENTS, "provinces": "codes"}
_MAX_LOG = 100_000
_encode = msgspec.json.Encoder().encode


class WilayahError(Exception):
    """A refused query: answered 400 in the ``status_code`` envelope."""


def _codes(query: MultiMapping[str], name: str) -> list[str] | None:
    values = [c.strip() for v in query.getall(name, []) for c in v.split(",") if c.strip()]
    return values or None


def _int(query: MultiMapping[str], name: str, default: int | None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        if default is None:
            raise WilayahError(f"{name} is required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise WilayahError(f"{name} must be a number") from None
    if value < 1:
        raise WilayahError(f"{name} must be at least 1")
    return value


def _cursor(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise WilayahError("invalid cursor") from None


def _b64(code: str) -> str:
    return base64.b64encode(code.encode()).decode()


def _window(rows: list[Row], query: MultiMapping[str], current: int, limit: int) -> list[Row]:
    codes = [row.code for row in rows]
    if query.get("next"):
        start = bisect.bisect_right(codes, _cursor(query["next"]))
        return rows[start : start + limit]
    if query.get("prev"):
        end = bisect.bisect_left(codes, _cursor(query["prev"]))
        return rows[max(0, end - limit) : end]
    start = (current - 1) * limit
    return rows[start : start + limit]


class WilayahService:
    """The region data and the log of every query served (for tests)."""

    def __init__(self, seed: int) -> None:
        self.data = WilayahData(seed)
        self.queries: list[tuple[str, dict[str, str]]] = []
        """``(level, query)`` of each request, in order (the latest 100 000)."""

    def _matching(self, level: str, query: MultiMapping[str]) -> list[Row]:
        parent = _PARENTS[level]
        rows = self.data.rows(level, _codes(query, parent) if parent else None)
        wanted = _codes(query, "codes")
        if wanted is None:
            return rows
        keep = set(wanted)
        return [row for row in rows if row.code in keep]

    def _log(self, level: str, query: MultiMapping[str]) -> None:
        if len(self.queries) >= _MAX_LOG:
            del self.queries[: _MAX_LOG // 2]
        self.queries.append((level, dict(query)))

    def v2(self, level: str, query: MultiMapping[str]) -> dict[str, Any]:
        """The v2 answer to ``query`` (raises WilayahError for a refused one)."""
        self._log(level, query)
        limit = _int(query, "limit", DEFAULT_LIMIT)
        if limit > MAX_LIMIT:
            raise WilayahError(f"limit cannot be more than {MAX_LIMIT}")
        current = _int(query, "current_page", None)
        rows = self._matching(level, query)
        page = _window(rows, query, current, limit)
        cursors = {
            "next": _b64(page[-1].code) if page else "",
            "previous": _b64(page[0].code) if page else "",
        }
        meta = {
            "item_count": len(page),
            "page": {
                "is_cursor": True,
                "current": current,
                "previous": current - 1,
                "next": current + 1,
                "limit": limit,
                "total_page": math.ceil(len(rows) / limit),
                "total": len(rows),
            },
            "cursors": cursors,
        }
        data = [row.json() for row in page]
        return {"status": 200, "error": False, "message": "success", "data": data, "meta": meta}

    def v1(self, level: str, query: MultiMapping[str]) -> dict[str, Any]:
        """The v1 answer: every match, no paging (raises WilayahError without the filter)."""
        self._log(level, query)
        required = _V1_REQUIRED[level]
        if required is None or _codes(query, required) is None:
            raise WilayahError(f"{required} is required")
        data = [row.json() for row in self._matching(level, query)]
        return {"status": 200, "error": False, "message": "success", "data": data}


def wilayah_service(sandbox: LocalSandbox) -> WilayahService:
    """The sandbox's wilayah service (created on first use, from the sandbox's seed)."""
    service = sandbox.extensions.get("wilayah")
    if service is None:
        service = sandbox.extensions["wilayah"] = WilayahService(sandbox.seed)
    assert isinstance(service, WilayahService)
    return service


def _answer(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, body=_encode(body), content_type="application/json")


def add_routes(app: web.Application, sandbox: LocalSandbox) -> None:
    """Serve ``/masterdata/v2/{level}`` and ``/masterdata/v1/{level}`` for the four levels."""
    for version in ("v1", "v2"):
        for level in LEVELS:
            app.router.add_get(f"/masterdata/{version}/{level}", _handler(sandbox, version, level))


def _handler(sandbox: LocalSandbox, version: str, level: str) -> Any:
    async def handle(request: web.Request) -> web.Response:
        service = wilayah_service(sandbox)
        try:
            if version == "v2":
                return _answer(service.v2(level, request.query))
            return _answer(service.v1(level, request.query))
        except WilayahError as error:
            return _answer({"status_code": 400, "message": str(error), "data": None}, 400)

    return handle

"""The sandbox's KFA endpoints: product detail, the paged catalogue, JKN prices.

``GET /kfa-v2/products?identifier=kfa|nie|lkpp&code=…``,
``GET /kfa-v2/products/all?page=&size=&product_type=farmasi|alkes[&filters]`` and
``GET /kfa/farmalkes-price-jkn`` (also at ``/kfa/products/farmalkes-price-jkn``, the path
the newer documentation quotes). A missing or bad parameter is answered as FastAPI does:
422 ``{"detail": [{"loc": ["query", name], "msg": …, "type": …}]}``. Every route goes
through the sandbox's gateway (latency, faults, the token check).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from satusehat_async.sandbox.kfa_catalogue import ProductFilter, catalogue_of

if TYPE_CHECKING:
    from satusehat_async.sandbox.server import LocalSandbox

__all__ = ["PRICE_PATHS", "PRODUCTS_PATH", "PRODUCT_PATH", "add_routes"]

PRODUCT_PATH = "/kfa-v2/products"
PRODUCTS_PATH = "/kfa-v2/products/all"
PRICE_PATHS = ("/kfa/farmalkes-price-jkn", "/kfa/products/farmalkes-price-jkn")
_MAX_SIZE = 1000
_encode = msgspec.json.Encoder().encode


class _Invalid(Exception):
    """The FastAPI ``detail`` entries of a refused query."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__("invalid query")
        self.detail = detail


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=_encode(body), content_type="application/json")


def _entry(name: str, msg: str, kind: str, **ctx: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"loc": ["query", name], "msg": msg, "type": kind}
    if ctx:
        entry["ctx"] = ctx
    return entry


class _Query:
    """Reads one request's query the way FastAPI validates it (every error collected)."""

    def __init__(self, query: Mapping[str, str]) -> None:
        self.query = query
        self.detail: list[dict[str, Any]] = []

    def _get(self, name: str, required: bool) -> str | None:
        value = self.query.get(name)
        if value is None and required:
            self.detail.append(_entry(name, "field required", "value_error.missing"))
        return value

    def integer(self, name: str, low: int, high: int | None = None) -> int:
        text = self._get(name, True)
        if text is None:
            return 0
        try:
            value = int(text)
        except ValueError:
            self.detail.append(_entry(name, "value is not a valid integer", "type_error.integer"))
            return 0
        if value < low:
            msg = f"ensure this value is greater than or equal to {low}"
            self.detail.append(_entry(name, msg, "value_error.number.not_ge", limit_value=low))
        elif high is not None and value > high:
            msg = f"ensure this value is less than or equal to {high}"
            self.detail.append(_entry(name, msg, "value_error.number.not_le", limit_value=high))
        return value

    def choice(self, name: str, options: tuple[str, ...], required: bool = True) -> str | None:
        value = self._get(name, required)
        if value is not None and value not in options:
            permitted = ", ".join(repr(o) for o in options)
            msg = f"value is not a valid enumeration member; permitted: {permitted}"
            self.detail.append(_entry(name, msg, "type_error.enum", enum_values=list(options)))
            return None
        return value

    def text(self, name: str, required: bool = False) -> str | None:
        return self._get(name, required)

    def date(self, name: str) -> str | None:
        value = self._get(name, False)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            self.detail.append(_entry(name, "invalid date format", "value_error.date"))
            return None

    def done(self) -> None:
        if self.detail:
            raise _Invalid(self.detail)


def _refusing(handler: Callable[[LocalSandbox, _Query], web.Response]) -> Callable[..., Any]:
    """An aiohttp handler for ``handler``: a refused query is answered with 422."""

    def route(sandbox: LocalSandbox) -> Callable[[web.Request], Any]:
        async def answer(request: web.Request) -> web.Response:
            try:
                return handler(sandbox, _Query(request.query))
            except _Invalid as error:
                return _json({"detail": error.detail}, status=422)

        return answer

    return route


@_refusing
def _product(sandbox: LocalSandbox, query: _Query) -> web.Response:
    identifier = query.choice("identifier", ("kfa", "nie", "lkpp"))
    code = query.text("code", required=True)
    query.done()
    assert identifier is not None and code is not None
    catalogue = catalogue_of(sandbox)
    number = catalogue.find(identifier, code)
    body: dict[str, Any] = {"search_code": code, "search_identifier": identifier}
    if number is not None:
        body["result"] = catalogue.record(number, detail=True)
        return _json(body)
    style = catalogue.not_found
    if style == "404":
        return _json({"detail": f"product {identifier}={code} not found"}, status=404)
    if style != "absent":
        body["result"] = {} if style == "empty" else None
    return _json(body)


@_refusing
def _products(sandbox: LocalSandbox, query: _Query) -> web.Response:
    page = query.integer("page", 1)
    size = query.integer("size", 1, _MAX_SIZE)
    product_type = query.choice("product_type", ("farmasi", "alkes"))
    where = ProductFilter(
        farmalkes_type=query.text("farmalkes_type"),
        keyword=query.text("keyword"),
        template_code=query.text("template_code"),
        packaging_code=query.text("packaging_code"),
        from_date=query.date("from_date"),
        to_date=query.date("to_date"),
    )
    query.done()
    assert product_type is not None
    catalogue = catalogue_of(sandbox)
    numbers = catalogue.numbers(product_type, where)
    start = (page - 1) * size
    data = catalogue.listed(numbers[start : start + size])
    head = _encode({"total": len(numbers), "page": page, "size": size})
    body = head[:-1] + b',"items":{"data":' + data + b"}}"
    return web.Response(body=body, content_type="application/json")


@_refusing
def _prices(sandbox: LocalSandbox, query: _Query) -> web.Response:
    page = query.integer("page", 1)
    limit = query.integer("limit", 1, _MAX_SIZE)
    code = query.text("kfa_code", required=True)
    regions = tuple(f"regional{n}" for n in range(1, 7))
    region = query.choice("region_code", regions, required=False)
    query.done()
    assert code is not None
    rows = catalogue_of(sandbox).prices(code, region)
    start = (page - 1) * limit
    body = {"total": len(rows), "page": page, "limit": limit}
    return _json({**body, "items": {"data": rows[start : start + limit]}})


def add_routes(app: web.Application, sandbox: LocalSandbox) -> None:
    """Serve the KFA's endpoints for ``sandbox`` (its catalogue is made on first use)."""
    app.router.add_get(PRODUCTS_PATH, _products(sandbox))
    app.router.add_get(PRODUCT_PATH, _product(sandbox))
    for path in PRICE_PATHS:
        app.router.add_get(path, _prices(sandbox))

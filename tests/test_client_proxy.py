"""Proxies (issue 9): HTTP_PROXY / HTTPS_PROXY / NO_PROXY by default, ``proxy=`` wins.

A tiny HTTP proxy runs in the test on 127.0.0.1 and forwards absolute-form requests for
http:// targets to a server also on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, web
from conftest import ServerFactory

from satusehat_async import SatuSehatClient, SatuSehatError


def data_app() -> web.Application:
    """A token endpoint and ``GET /d``."""

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"access_token": "tok", "expires_in": "3600"})

    async def data(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/oauth2/v1/accesstoken", token)
    app.router.add_get("/d", data)
    return app


class TinyProxy:
    """An HTTP proxy for http:// targets: forwards absolute-form requests, records them."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.auth: list[str | None] = []
        self.server = web.Server(self.handle)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        assert request.raw_path.startswith("http://"), "a proxy is asked in absolute form"
        self.seen.append(request.raw_path)
        self.auth.append(request.headers.get("Proxy-Authorization"))
        headers = {k: v for k, v in request.headers.items() if not k.lower().startswith("proxy")}
        async with (
            ClientSession() as session,
            session.request(
                request.method, request.raw_path, headers=headers, data=await request.read()
            ) as answer,
        ):
            body = await answer.read()
            return web.Response(status=answer.status, body=body, content_type=answer.content_type)

    async def start(self) -> str:
        self.runner = web.ServerRunner(self.server)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}"


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[TinyProxy, str]]:
    tiny = TinyProxy()
    url = await tiny.start()
    yield tiny, url
    await tiny.runner.cleanup()


async def test_environment_proxies_are_honoured(
    serve: ServerFactory, proxy: tuple[TinyProxy, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny, proxy_url = proxy
    base = await serve(data_app())
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    async with SatuSehatClient("cid", "csecret", base_url=base) as client:
        assert await client.request("GET", "/d") == {"ok": True}
    assert tiny.seen == [base + "/oauth2/v1/accesstoken?grant_type=client_credentials", base + "/d"]
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    tiny.seen.clear()
    async with SatuSehatClient("cid", "csecret", base_url=base) as client:
        assert await client.request("GET", "/d") == {"ok": True}
    assert tiny.seen == []  # NO_PROXY: straight to the host
    monkeypatch.delenv("NO_PROXY")
    async with SatuSehatClient("cid", "csecret", base_url=base, trust_env=False) as client:
        assert await client.request("GET", "/d") == {"ok": True}
    assert tiny.seen == []


async def test_the_proxy_argument_wins_over_the_environment(
    serve: ServerFactory, proxy: tuple[TinyProxy, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny, proxy_url = proxy
    base = await serve(data_app())
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    with_credentials = proxy_url.replace("http://", "http://alice:s3cret@")
    client = SatuSehatClient.from_env(
        {"SATUSEHAT_CLIENT_ID": "cid", "SATUSEHAT_CLIENT_SECRET": "cs", "SATUSEHAT_BASE_URL": base},
        proxy=with_credentials,
    )
    async with client:
        assert await client.request("GET", "/d") == {"ok": True}
    assert tiny.seen[-1] == base + "/d"
    assert set(tiny.auth) == {"Basic YWxpY2U6czNjcmV0"}  # alice:s3cret, to the proxy only
    assert "s3cret" not in repr(client) + repr(client.transport.proxies)


def test_a_proxy_we_cannot_speak_is_refused() -> None:
    with pytest.raises(SatuSehatError, match="proxy"):
        SatuSehatClient("a", "b", proxy="socks5://127.0.0.1:1080")

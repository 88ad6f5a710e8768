"""pytest fixtures: a SATUSEHAT sandbox and a client pointed at it, in one line.

Installing ``satusehat-async`` registers this plugin with pytest (entry point
``pytest11``), so the fixtures are available in every test suite without any import.
They need ``pytest-asyncio`` (the ``test`` extra). In its default *strict* mode an
``async def`` test runs only when marked (``pytestmark = pytest.mark.asyncio`` for a
whole module); with ``asyncio_mode = "auto"`` no mark is needed. An unmarked async
test that uses these fixtures fails with a message saying so (pytest's own says to
install an async plugin, which is already there)::

    import pytest

    pytestmark = pytest.mark.asyncio

    async def test_lists_hospitals(satusehat_client):
        page = await satusehat_client.request(
            "GET",
            "/masterdata/v1/mastersaranaindex/mastersarana",
            params={"jenis_sarana": 104, "limit": 100, "page": 1},
        )
        assert page["data"]

    async def test_counts_requests(satusehat_sandbox, satusehat_client):
        ...
        assert satusehat_sandbox.stats.token_requests == 1

Fixtures (all function-scoped):

``satusehat_sandbox``
    A started :class:`satusehat_async.sandbox.LocalSandbox` on a free local port with a
    registry of 2,000 facilities. Read ``.stats``, ``.registry``, call ``.inject(...)``
    to queue faults, ``.expire_tokens()`` to expire every token.
``satusehat_client``
    An entered :class:`satusehat_async.SatuSehatClient` pointed at that sandbox (with the
    sandbox's credentials); closed after the test.
``satusehat_sandbox_options``
    The keyword arguments given to ``LocalSandbox``; override it in your ``conftest.py`` or
    test module to change them::

        @pytest.fixture
        def satusehat_sandbox_options():
            return {"facilities": 50_000, "latency": 0.01, "fault_rate": 0.05}
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient
    from satusehat_async.sandbox.server import LocalSandbox

try:  # the plugin is loaded by every pytest run: never fail to import
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the environment
    pytest_asyncio = None  # type: ignore[assignment]

__all__ = [
    "pytest_runtest_setup",
    "satusehat_client",
    "satusehat_sandbox",
    "satusehat_sandbox_options",
]

DEFAULT_FACILITIES = 2_000
_OURS = frozenset({"satusehat_sandbox", "satusehat_client"})
_UNMARKED = (
    "{name} is an async test, which pytest-asyncio runs (in its default strict mode) only "
    "when marked: add @pytest.mark.asyncio, or pytestmark = pytest.mark.asyncio for the "
    'module, or set asyncio_mode = "auto" in the pytest configuration'
)
_NEEDS_ASYNCIO = "the satusehat_sandbox fixtures need pytest-asyncio: pip install pytest-asyncio"


@pytest.fixture
def satusehat_sandbox_options() -> dict[str, Any]:
    """Keyword arguments for the ``satusehat_sandbox`` fixture's sandbox; override me."""
    return {}


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def satusehat_sandbox(
        satusehat_sandbox_options: dict[str, Any],
    ) -> AsyncIterator[LocalSandbox]:
        """A started sandbox (2,000 facilities unless the options say otherwise)."""
        from satusehat_async.sandbox.server import LocalSandbox

        options: dict[str, Any] = {"facilities": DEFAULT_FACILITIES}
        options.update(satusehat_sandbox_options)
        async with LocalSandbox(**options) as sandbox:
            yield sandbox

    @pytest_asyncio.fixture
    async def satusehat_client(
        satusehat_sandbox: LocalSandbox,
    ) -> AsyncIterator[SatuSehatClient]:
        """An entered ``SatuSehatClient`` pointed at ``satusehat_sandbox``."""
        async with satusehat_sandbox.client() as client:
            yield client

else:  # pragma: no cover - depends on the environment

    @pytest.fixture
    def satusehat_sandbox(satusehat_sandbox_options: dict[str, Any]) -> Any:
        """Unavailable: pytest-asyncio is not installed."""
        pytest.fail(_NEEDS_ASYNCIO)

    @pytest.fixture
    def satusehat_client(satusehat_sandbox: Any) -> Any:
        """Unavailable: pytest-asyncio is not installed."""
        pytest.fail(_NEEDS_ASYNCIO)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail an unmarked async test that uses our fixtures with a message that helps.

    pytest-asyncio turns the async tests it will run into its own item class; one left a
    plain ``pytest.Function`` would otherwise start a sandbox and then fail with pytest's
    "async def functions are not natively supported".
    """
    if (
        type(item) is pytest.Function
        and inspect.iscoroutinefunction(item.obj)
        and _OURS.intersection(item.fixturenames)
    ):
        pytest.fail(_UNMARKED.format(name=item.name), pytrace=False)

"""For tests: the official fake of the client's I/O seam, and the local sandbox's names.

:class:`MockBackend` (``SatuSehatClient(..., backend=MockBackend(handler))``) answers the
client's requests from a function, with no socket at all. The local sandbox — an
embedded fake SATUSEHAT, an aiohttp server on 127.0.0.1, not to be confused with
``environment="sandbox"`` (the remote Kemkes staging host) — lives in
:mod:`satusehat_async.sandbox`; its names are importable from here too::

    from satusehat_async.testing import LocalSandbox  # the same class as Sandbox

    async with LocalSandbox(facilities=10_000, seed=1) as sb:
        async with sb.client() as client:
            ...

The test-facing module is :mod:`satusehat_async.testing.pytest_plugin` (the
``satusehat_sandbox`` and ``satusehat_client`` fixtures, registered with pytest on
install). The names are imported lazily, so importing this package (as the plugin does in
every test run) costs nothing until a sandbox is actually used. The old submodules
(``satusehat_async.testing.server``, ``.registry``, ``.faults``...) still import, with a
DeprecationWarning: they moved to :mod:`satusehat_async.sandbox`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from satusehat_async.sandbox.faults import (
        FAULT_KINDS,
        RANDOM_FAULT_KINDS,
        TRANSIENT_FAULT_KINDS,
        FaultKind,
    )
    from satusehat_async.sandbox.registry import FacilityMeta, Registry
    from satusehat_async.sandbox.server import LocalSandbox, Sandbox
    from satusehat_async.sandbox.stats import SandboxStats
    from satusehat_async.sandbox.threaded import ThreadedSandbox
    from satusehat_async.testing.mock import MockBackend

__all__ = [
    "FAULT_KINDS",
    "RANDOM_FAULT_KINDS",
    "TRANSIENT_FAULT_KINDS",
    "FacilityMeta",
    "FaultKind",
    "LocalSandbox",
    "MockBackend",
    "Registry",
    "Sandbox",
    "SandboxStats",
    "ThreadedSandbox",
]

_HOMES = {
    "FAULT_KINDS": "satusehat_async.sandbox.faults",
    "RANDOM_FAULT_KINDS": "satusehat_async.sandbox.faults",
    "TRANSIENT_FAULT_KINDS": "satusehat_async.sandbox.faults",
    "FaultKind": "satusehat_async.sandbox.faults",
    "FacilityMeta": "satusehat_async.sandbox.registry",
    "Registry": "satusehat_async.sandbox.registry",
    "LocalSandbox": "satusehat_async.sandbox.server",
    "Sandbox": "satusehat_async.sandbox.server",
    "SandboxStats": "satusehat_async.sandbox.stats",
    "ThreadedSandbox": "satusehat_async.sandbox.threaded",
    "MockBackend": "satusehat_async.testing.mock",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

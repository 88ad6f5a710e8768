"""The local sandbox: an embedded fake SATUSEHAT, an aiohttp server on 127.0.0.1.

Not to be confused with ``environment="sandbox"``, the remote Kemkes staging host.
Use it in tests, demos and benchmarks when there are no credentials and no network
(:class:`MockBackend`, the fake of the client's I/O seam, goes lower: no socket at all)::

    from satusehat_async.testing import LocalSandbox  # the same class as Sandbox

    async with LocalSandbox(facilities=10_000, seed=1) as sb:
        async with sb.client() as client:
            ...

The names are imported lazily, so importing this package (as the pytest plugin does in
every test run) costs nothing until a sandbox is actually used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from satusehat_async.testing.faults import (
        FAULT_KINDS,
        RANDOM_FAULT_KINDS,
        TRANSIENT_FAULT_KINDS,
        FaultKind,
    )
    from satusehat_async.testing.mock import MockBackend
    from satusehat_async.testing.registry import FacilityMeta, Registry
    from satusehat_async.testing.server import Sandbox, SandboxStats
    from satusehat_async.testing.server import Sandbox as LocalSandbox
    from satusehat_async.testing.threaded import ThreadedSandbox

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
    "FAULT_KINDS": "faults",
    "RANDOM_FAULT_KINDS": "faults",
    "TRANSIENT_FAULT_KINDS": "faults",
    "FaultKind": "faults",
    "FacilityMeta": "registry",
    "Registry": "registry",
    "Sandbox": "server",
    "LocalSandbox": "server",
    "MockBackend": "mock",
    "SandboxStats": "server",
    "ThreadedSandbox": "threaded",
}

_ORIGINAL = {"LocalSandbox": "Sandbox"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    # LocalSandbox: the unmistakable name of Sandbox (which stays importable)
    value = getattr(importlib.import_module(f"{__name__}.{home}"), _ORIGINAL.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

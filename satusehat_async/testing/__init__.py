"""An embedded SATUSEHAT: a local aiohttp server that behaves like the real API.

Use it in tests, demos and benchmarks when there are no credentials and no network::

    from satusehat_async.testing import Sandbox

    async with Sandbox(facilities=10_000, seed=1) as sb:
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
    from satusehat_async.testing.registry import FacilityMeta, Registry
    from satusehat_async.testing.server import Sandbox, SandboxStats
    from satusehat_async.testing.threaded import ThreadedSandbox

__all__ = [
    "FAULT_KINDS",
    "RANDOM_FAULT_KINDS",
    "TRANSIENT_FAULT_KINDS",
    "FacilityMeta",
    "FaultKind",
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
    "SandboxStats": "server",
    "ThreadedSandbox": "threaded",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

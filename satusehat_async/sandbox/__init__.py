"""The local sandbox: an embedded fake SATUSEHAT, an aiohttp server on 127.0.0.1.

Not to be confused with ``environment="sandbox"``, the remote Kemkes staging host. It
answers like SATUSEHAT — the OAuth token, the Master Sarana Index, Patient (the MPI) and
every other FHIR R4 resource type (the FHIR store) — with faults on demand, for tests,
demos and benchmarks without credentials or network. It is an independent oracle of the
API: it shares no protocol code with the client::

    from satusehat_async.sandbox import LocalSandbox

    async with LocalSandbox(facilities=10_000, seed=1) as sb:
        async with sb.client() as client:
            ...

Where things are: :mod:`.server` (:class:`LocalSandbox`: settings, lifecycle, controls),
:mod:`.gateway` (latency, faults, the token check, ambiguous writes), :mod:`.routes` (the
endpoints), :mod:`.tokens`, :mod:`.faults`, :mod:`.stats`; the facility registry in
:mod:`.registry`, :mod:`.msi` (queries), :mod:`.facilities`, :mod:`.facility_tables` and
:mod:`.geography`; the patient index in :mod:`.patients`, :mod:`.patient_rules`,
:mod:`.patient_search` and :mod:`.fhir`; every other resource type in :mod:`.resources`,
:mod:`.resource_rules`, :mod:`.time_rules` (RuleNumber 10132), :mod:`.resource_search`,
:mod:`.json_patch` and :mod:`.transaction` (Bundles POSTed to the FHIR base); :mod:`.threaded`
runs a sandbox in a thread.
For tests, the pytest fixtures are in :mod:`satusehat_async.testing.pytest_plugin`.
"""

from __future__ import annotations

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

__all__ = [
    "FAULT_KINDS",
    "RANDOM_FAULT_KINDS",
    "TRANSIENT_FAULT_KINDS",
    "FacilityMeta",
    "FaultKind",
    "LocalSandbox",
    "Registry",
    "Sandbox",
    "SandboxStats",
    "ThreadedSandbox",
]

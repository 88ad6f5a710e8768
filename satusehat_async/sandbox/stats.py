"""The counters a sandbox keeps of what it served, for tests to read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["SandboxStats"]


@dataclass
class SandboxStats:
    """Counters a test can read; :meth:`LocalSandbox.reset_stats` starts them again."""

    requests: int = 0
    """Every request received, the token endpoint's included."""
    token_requests: int = 0
    requests_by_path: Counter[str] = field(default_factory=Counter)
    """Keyed by method and route, e.g. ``"GET /fhir-r4/v1/Patient/{id}"``."""
    in_flight: int = 0
    """Requests (other than for tokens) being handled right now."""
    max_in_flight: int = 0
    """The most requests (other than for tokens) ever handled at once."""
    patients_stored: int = 0
    """Patients created (committed), whatever the answer said."""
    patches_applied: int = 0
    """Patient patches (committed)."""
    resources_stored: Counter[str] = field(default_factory=Counter)
    """Resources other than Patients created (committed), by type."""
    resources_updated: Counter[str] = field(default_factory=Counter)
    """Resources other than Patients updated or patched (committed), by type."""
    transactions: int = 0
    """``transaction`` Bundles committed (their resources are counted in
    ``resources_stored`` and ``resources_updated``), whatever the answer said."""
    transactions_refused: int = 0
    """``transaction`` Bundles refused (nothing of them stored)."""
    faults_injected: Counter[str] = field(default_factory=Counter)
    """Faults answered, random and queued, by kind."""

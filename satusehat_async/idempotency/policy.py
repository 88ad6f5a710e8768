"""What makes creates of one resource type duplicate-safe: its :class:`IdentityPolicy`.

The create engine (:func:`~satusehat_async.idempotency.run_create`) knows nothing of
Patients or NIKs. A resource type plugs in one policy that answers:

- what one create is known by (:meth:`IdentityPolicy.identify`: an identifier
  ``system|value``, searched for before the write and after any ambiguous failure);
- whether the server keeps that identifier unique (then a re-sent write that comes too
  early is answered "duplicate" with the record's id, and one search after a failure is
  enough) or not (then the write is looked for over a :class:`ReconcileWindow` and never
  sent again while it may still appear);
- whether the write carries ``If-None-Exist`` (standard FHIR servers then dedupe too);
- which of a search's records is the one to create (:meth:`IdentityPolicy.matches`).

The Master Patient Index's rules (a NIK; a newborn by its mother's NIK, name, birth date
and birth order) are one such policy: :class:`satusehat_async.patients.policy.PatientIdentity`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from satusehat_async.errors import SatuSehatError

if TYPE_CHECKING:
    from satusehat_async.idempotency.window import ReconcileWindow

__all__ = ["CreatePlan", "Created", "Identity", "IdentityPolicy", "pick", "write_headers"]

R = TypeVar("R")


@dataclass(frozen=True)
class Identity:
    """The identifier one logical create is known by, fixed before its first attempt.

    Attributes:
        system, value: the identifier searched for (``identifier=system|value``).
        unique: the server keeps this identifier unique (a NIK); False where several
            records share it (a mother's NIK, which twins share).
        conditional: send ``If-None-Exist: identifier=system|value`` with the write.
    """

    system: str
    value: str
    unique: bool
    conditional: bool

    @property
    def token(self) -> str:
        """The FHIR token ``system|value``."""
        return f"{self.system}|{self.value}"


class IdentityPolicy(Protocol[R]):
    """How the creates of one resource type find their own record (one policy per type)."""

    @property
    def resource_type(self) -> str:
        """The FHIR resource type (``"Patient"``): in messages and the memory's keys."""

    @property
    def window(self) -> ReconcileWindow:
        """How long a write to a non-unique identity is looked for after it failed."""

    def identify(self, resource: R) -> Identity:
        """The identity of a create of ``resource`` (ValidationError when it has none)."""

    def matches(self, candidate: R, wanted: R, identity: Identity) -> bool:
        """Is ``candidate`` (found by ``identity``) the record ``wanted`` would create?"""

    def id_of(self, resource: R) -> str | None:
        """The server's id of a stored record (None when it carries none)."""

    def with_id(self, resource: R, resource_id: str) -> R:
        """``resource`` as stored under ``resource_id`` (kept in the memory of creates)."""

    def ambiguous(
        self, ids: Sequence[str], identity: Identity, after: SatuSehatError | None
    ) -> SatuSehatError:
        """The error for several matching records (none is picked)."""


@dataclass(frozen=True)
class CreatePlan(Generic[R]):
    """One logical create, fixed before its first attempt: what is sent, what it is known by."""

    resource: R
    body: bytes
    identity: Identity
    headers: Mapping[str, str]

    @property
    def conditional(self) -> bool:
        """Whether the write carries ``If-None-Exist``."""
        return "If-None-Exist" in self.headers

    @property
    def lock_key(self) -> str:
        """Creates sharing this key are serialized (one identifier: one NIK, one mother)."""
        return self.identity.token


@dataclass(frozen=True)
class Created(Generic[R]):
    """What a create ended in: the record's id, whether this call stored it, the record."""

    id: str
    created: bool
    resource: R | None = None


def write_headers(identity: Identity, content_type: str = "application/json") -> dict[str, str]:
    """The headers of a create's write: its content type, and ``If-None-Exist`` if asked."""
    headers = {"Content-Type": content_type}
    if identity.conditional:
        headers["If-None-Exist"] = f"identifier={identity.token}"
    return headers


def pick(
    policy: IdentityPolicy[R],
    plan: CreatePlan[R],
    candidates: Sequence[R],
    after: SatuSehatError | None = None,
) -> R | None:
    """The one candidate that is the record to create; None; or the policy's ambiguity error.

    ``after`` is this create's own ambiguous failure, when the search follows one.
    """
    matches: dict[str, R] = {}
    for candidate in candidates:
        found = policy.id_of(candidate)
        if found and policy.matches(candidate, plan.resource, plan.identity):
            matches.setdefault(found, candidate)
    if len(matches) > 1:
        raise policy.ambiguous(list(matches), plan.identity, after)
    return next(iter(matches.values()), None)

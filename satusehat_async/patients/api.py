"""``client.patients``: create, get, search and patch Patients in the Master Patient Index."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from satusehat_async.context import context_of
from satusehat_async.errors import ValidationError
from satusehat_async.http.options import RequestOptions
from satusehat_async.idempotency import CreateMemory, ReconcileWindow, request_policy
from satusehat_async.patients.answers import CreateResult
from satusehat_async.patients.capabilities import ServerTraits, server_traits
from satusehat_async.patients.idempotent import create_idempotently, plan_create
from satusehat_async.patients.identifiers import (
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    identifier_token,
    parse_identifier_token,
    redact_niks,
    validate_nik,
)
from satusehat_async.patients.models import Patient
from satusehat_async.resource.api import ResourceAPI
from satusehat_async.resource.pager import SearchResults
from satusehat_async.resource.patch import PatchOperation
from satusehat_async.retry import RetryPolicy

if TYPE_CHECKING:
    from satusehat_async.client import SatuSehatClient
    from satusehat_async.context import KeyedLocks, ResourceContext
    from satusehat_async.http.response import Response
    from satusehat_async.http.retry import RetryBudget
    from satusehat_async.params import Params
    from satusehat_async.patients.plan import CreatePlan

__all__ = ["GENDERS", "SEARCH_COMBINATIONS", "Patients", "search_params"]

#: The search parameter combinations the MPI documents (anything else is refused).
SEARCH_COMBINATIONS: tuple[frozenset[str], ...] = (
    frozenset({"nik"}),
    frozenset({"nik", "name"}),
    frozenset({"nik", "name", "birthdate"}),
    frozenset({"name", "birthdate", "gender"}),
    frozenset({"nik_ibu"}),
)
#: FHIR's administrative genders.
GENDERS = ("male", "female", "other", "unknown")

# The MPI's answers are small (a NIK, a mother's babies): more pages than this is a
# server paging in circles, never a result.
_MAX_PAGES = 100


def _birthdate(value: str | dt.date) -> str:
    if isinstance(value, dt.datetime):
        raise ValidationError("birthdate is a date (YYYY-MM-DD), not a datetime")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise ValidationError(f"birthdate must be a date YYYY-MM-DD, got {redact_niks(repr(value))}")


def _from_identifier(
    identifier: str, nik: str | None, nik_ibu: str | None
) -> tuple[str | None, str | None]:
    """``identifier="system|value"`` as the ``nik`` or ``nik_ibu`` it stands for."""
    system, value = parse_identifier_token(identifier)
    if system == NIK_SYSTEM and nik is None:
        return value, nik_ibu
    if system == NIK_IBU_SYSTEM and nik_ibu is None:
        return nik, value
    if system in (NIK_SYSTEM, NIK_IBU_SYSTEM):
        raise ValidationError("give the NIK either as identifier= or as nik=/nik_ibu=")
    raise ValidationError(
        f"searchable identifiers are the NIK ({NIK_SYSTEM}) and the mother's NIK "
        f"({NIK_IBU_SYSTEM}); for an IHS number use get(id)"
    )


def _check_combination(given: Mapping[str, object]) -> None:
    """Refuse a combination of search parameters the MPI does not document."""
    names = frozenset(key for key, value in given.items() if value is not None)
    if names not in SEARCH_COMBINATIONS:
        allowed = "; ".join(" + ".join(sorted(c)) for c in SEARCH_COMBINATIONS)
        got = " + ".join(sorted(names)) or "nothing"
        raise ValidationError(f"unsupported Patient search ({got}); supported: {allowed}")


def _name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("name must be a non-empty string")
    return " ".join(name.split())


def _gender(gender: object) -> str:
    if gender not in GENDERS:
        raise ValidationError(
            f"gender must be one of {', '.join(GENDERS)}; got {redact_niks(repr(gender))}"
        )
    return str(gender)


def search_params(
    *,
    nik: str | None = None,
    nik_ibu: str | None = None,
    name: str | None = None,
    birthdate: str | dt.date | None = None,
    gender: str | None = None,
    identifier: str | None = None,
) -> dict[str, str]:
    """The query of a Patient search, validated (:class:`ValidationError` before sending).

    The documented combinations: ``nik``; ``nik`` + ``name``; ``nik`` + ``name`` +
    ``birthdate``; ``name`` + ``birthdate`` + ``gender``; ``nik_ibu`` (all of a mother's
    babies). ``identifier="system|value"`` with the NIK or NIK-ibu system stands for
    ``nik``/``nik_ibu``.
    """
    if identifier is not None:
        nik, nik_ibu = _from_identifier(identifier, nik, nik_ibu)
    given = {"nik": nik, "nik_ibu": nik_ibu, "name": name, "birthdate": birthdate}
    _check_combination({**given, "gender": gender})
    params: dict[str, str] = {}
    if nik is not None:
        params["identifier"] = identifier_token(NIK_SYSTEM, validate_nik(nik))
    if nik_ibu is not None:
        mother = validate_nik(nik_ibu, what="NIK-ibu")
        params["identifier"] = identifier_token(NIK_IBU_SYSTEM, mother)
    if name is not None:
        params["name"] = _name(name)
    if birthdate is not None:
        params["birthdate"] = _birthdate(birthdate)
    if gender is not None:
        params["gender"] = _gender(gender)
    return params


class Patients:
    """The Master Patient Index (``client.patients``).

    Args:
        client: the client's :class:`~satusehat_async.context.ResourceContext` to send
            through (``SatuSehatClient.context``; the client itself is accepted too).
        retry: bounds and backoff of :meth:`create`'s re-sends (default: the client's).
        sleep: replaces ``asyncio.sleep`` between a failed create and its reconciliation
            (default: the client transport's, so tests inject one clock for everything).
        window: how long a newborn's ambiguously failed write is looked for before it may
            be sent again (default :class:`ReconcileWindow`: 10 s).
        nik_unique: does the server refuse a second Patient for one NIK (the MPI)? True:
            a new patient by NIK costs one request (the POST; no search before it).
            None (auto): True on SATUSEHAT's own hosts; elsewhere what the server's
            CapabilityStatement declares (read once per client: conditional create, or
            the MPI's uniqueness as the local sandbox declares it). False: only a
            declared conditional create counts. See
            :mod:`satusehat_async.patients.capabilities`.
    """

    def __init__(
        self,
        client: ResourceContext | SatuSehatClient,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        window: ReconcileWindow | None = None,
        nik_unique: bool | None = None,
    ) -> None:
        if window is not None and not isinstance(window, ReconcileWindow):
            raise ValidationError("window must be a ReconcileWindow")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValidationError("retry must be a RetryPolicy")
        # a SatuSehatClient is accepted too (earlier releases took it): its context
        self._context = context_of(client)
        self._retry = retry
        self._sleep = sleep
        self.window = window or ReconcileWindow()
        """The newborns' reconciliation window (see :class:`ReconcileWindow`)."""
        self.nik_unique = nik_unique
        # reads and patches are the generic FHIR ones; search and create keep MPI rules
        self._fhir = ResourceAPI(self._context, Patient)

    def __repr__(self) -> str:
        return f"Patients({self.url!r})"

    # One lock table and one memory of creates per client, whoever builds the Patients
    # object: two Patients(client) (say, one per web request) must still serialize creates
    # for the same identifier, and know the newborns the other created.
    @property
    def _locks(self) -> KeyedLocks:
        return self._context.locks

    @property
    def _memory(self) -> CreateMemory:
        return self._context.creates

    @property
    def nik_unique(self) -> bool | None:
        """Whether the server refuses a second Patient for one NIK (None: find out; see
        the ``nik_unique`` argument). May be set at any time."""
        return self._nik_unique

    @nik_unique.setter
    def nik_unique(self, value: bool | None) -> None:
        if value is not None and not isinstance(value, bool):
            raise ValidationError("nik_unique must be True, False or None (find out)")
        self._nik_unique = value

    async def server_traits(self) -> ServerTraits:
        """What the server promises about NIK creates: may one be written first?

        Reads the CapabilityStatement the first time a client needs it (see
        :mod:`satusehat_async.patients.capabilities`); nothing on SATUSEHAT's hosts.
        """
        return await server_traits(self._context, self._nik_unique, RequestOptions())

    @property
    def url(self) -> str:
        """The Patient endpoint, ``{fhir_url}/Patient``."""
        return f"{self._context.endpoints.fhir_url}/Patient"

    async def get(self, patient_id: str) -> Patient:
        """Read one Patient (``GET /Patient/{id}``); :class:`NotFoundError` if there is none."""
        return await self._fhir.get(patient_id)

    async def search(
        self,
        *,
        nik: str | None = None,
        nik_ibu: str | None = None,
        name: str | None = None,
        birthdate: str | dt.date | None = None,
        gender: str | None = None,
        identifier: str | None = None,
    ) -> list[Patient]:
        """Search Patients by one of the documented combinations (see :func:`search_params`).

        Answers to a search by NIK are masked (``################``, ``Sa** An**``); a
        search by ``nik_ibu`` lists all of a mother's babies unmasked. No match is ``[]``.
        """
        params = search_params(
            nik=nik,
            nik_ibu=nik_ibu,
            name=name,
            birthdate=birthdate,
            gender=gender,
            identifier=identifier,
        )
        return await self._search(params)

    async def _search(
        self, params: Mapping[str, str], options: RequestOptions | None = None
    ) -> list[Patient]:
        """Every page of a search, as one list (``next`` links followed on our own base)."""

        async def fetch(url: str, page_params: Params | None) -> Response:
            return await self._context.send("GET", url, params=page_params, options=options)

        results = SearchResults(
            fetch,
            Patient,
            url=self.url,
            base=self._context.endpoints.fhir_url,
            params=params,
            resource_type="Patient",
            max_pages=_MAX_PAGES,
        )
        return await results.all()

    async def create(self, patient: Patient | Mapping[str, Any]) -> CreateResult[Patient]:
        """Register a Patient, exactly once, and return its id.

        Idempotent. Where the server refuses a second Patient for a NIK (the MPI; a server
        declaring conditional create; see :attr:`nik_unique`) a new patient by NIK costs
        one request: the POST, whose answer — the new record, or the existing one (the
        MPI's duplicate envelope, a conditional create's match: ``created=False``) — is
        the whole create. Elsewhere, and for a newborn (its mother's NIK, name, birth
        date and birth order: twins share the NIK), it is searched for before sending.
        After any ambiguous failure (timeout, dropped connection, 5xx) it is searched for
        before re-sending, so retries never leave two records; a found record is then
        ``created=True``. A newborn is sent again only after its write could no longer
        appear (:attr:`window`). Every wait fits in the retry policy's ``max_time``.

        Raises:
            ValidationError: nothing was sent — a patient without a valid NIK or NIK-ibu,
                a newborn without a birth date or a birth order (``multipleBirthInteger``
                0 for a single birth, 1, 2, ... for twins; ``multipleBirthBoolean: false``
                is sent as 0), a dict with keys that are not Patient elements.
            AmbiguousMatchError: several existing records match (or a conditional create
                answered 412); none is picked.
            CreateOutcomeUnknown: a write failed ambiguously and its record could not be
                found (the search failed, or a newborn's window outlasted the budget);
                repeating the create is safe.
        """
        plan = plan_create(patient)
        context = self._context
        # The context's clock and sleep, so a test's fake clock covers these waits too;
        # one budget for every wait and request of this create.
        budget = (self._retry or context.retry).start(context.monotonic)
        write_first = False
        if plan.identity.unique:  # a NIK; never a newborn (twins share the mother's NIK)
            options = RequestOptions(retry=request_policy(budget))
            traits = await server_traits(context, self._nik_unique, options)
            write_first = traits.write_first
        async with context.locks.hold(f"Patient {plan.lock_key}"):
            return await self._create(plan, budget, write_first=write_first)

    async def _create(
        self, plan: CreatePlan, budget: RetryBudget, *, write_first: bool
    ) -> CreateResult[Patient]:
        """Run the planned create through the engine, on this client's requests."""
        context = self._context

        async def post() -> Response:
            # A failure is reported to the circuit breaker only once it is known that the
            # write did not happen after all (see report): a reconciled one is no failure.
            options = RequestOptions(
                idempotent=False, retry=request_policy(budget), count_failure=False
            )
            return await context.send(
                "POST", self.url, content=plan.body, headers=plan.headers, options=options
            )

        async def search(system: str, value: str) -> list[Patient]:
            params = {"identifier": identifier_token(system, value)}
            return await self._search(params, RequestOptions(retry=request_policy(budget)))

        def report(ok: bool) -> None:
            context.record_outcome(self.url, ok=ok)

        return await create_idempotently(
            plan,
            post=post,
            search=search,
            policy=budget.policy,
            sleep=self._sleep or context.sleep,
            budget=budget,
            window=self.window,
            memory=context.creates,
            report=report,
            write_first=write_first,
        )

    async def patch(
        self,
        patient_id: str,
        operations: Iterable[PatchOperation | Mapping[str, Any]],
        *,
        content_type: str = "application/json-patch+json",
    ) -> Patient:
        """Apply JSON Patch ``replace`` operations (``PATCH /Patient/{id}``); the updated Patient.

        Operations are :func:`~satusehat_async.patients.replace` results or plain dicts;
        anything but ``replace`` is refused before sending. Replace operations are
        idempotent, so the transport may retry the request. ``content_type`` may be
        ``"application/json"`` (the documents' choice) instead of the standard type.
        """
        return await self._fhir.patch(patient_id, operations, content_type=content_type)

"""What a write or an export can end in besides success: errors with their own meaning.

- :class:`AmbiguousMatchError`: several existing records match the one to create.
- :class:`CreateOutcomeUnknown`: an ambiguous write whose outcome could not be learnt.
- :class:`ResumeRefused` / :class:`CheckpointError`: an export that cannot be resumed safely.
- :class:`IncompleteSearchError`: a search that ended short of the server's ``total``.
- :class:`AmbiguousIdentifierError`, :class:`UnverifiableCreateOutcome`: the generic
  resource API's forms of the two create outcomes above.
- :class:`TransactionError`, :class:`UnverifiableTransactionOutcome`: a Bundle transaction
  refused (mapped to the entry the caller added), or failed ambiguously without identifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from satusehat_async.errors.tree import APIError, SatuSehatError, ValidationError
from satusehat_async.redact import redact_niks

__all__ = [
    "AmbiguousIdentifierError",
    "AmbiguousMatchError",
    "CheckpointError",
    "CreateOutcomeUnknown",
    "IncompleteSearchError",
    "ResumeRefused",
    "TransactionError",
    "UnverifiableCreateOutcome",
    "UnverifiableTransactionOutcome",
]


class AmbiguousMatchError(SatuSehatError):
    """More than one existing record matches the patient to create: none is picked.

    For a newborn: several babies of that mother with the same birth date, name and birth
    order (or, for a single birth, several without a birth order). ``ids`` lists them.
    """

    def __init__(self, ids: Sequence[str], *, newborn: bool, after: SatuSehatError | None):
        self.ids = tuple(ids)
        what = (
            "this newborn (mother's NIK, birth date, name and birth order)"
            if newborn
            else "this NIK"
        )
        message = (
            f"{len(self.ids)} records ({', '.join(self.ids)}) match {what}: cannot tell "
            "which one is meant, so none is returned; resolve the duplicates"
        )
        if after is not None:
            message += (
                f" (this create's own write failed ambiguously, {type(after).__name__}, "
                "and may be one of them)"
            )
        super().__init__(message)


class CreateOutcomeUnknown(SatuSehatError):
    """A create whose write failed ambiguously, and whose record could not be found.

    Either the search that should have told failed too (``cause``), or — for a newborn —
    the record did not appear within the part of its window (:class:`ReconcileWindow`)
    the retry budget allowed: a write can commit after its error, and searches lag. The
    record may or may not have been stored. Repeating the same create is safe: it
    searches before sending, and the same client writes a newborn again only after its
    window has passed; from another process, repeat it after ``repeat_after`` seconds.

    Attributes:
        last_error: the ambiguous failure of the last write (timeout, dropped answer, 5xx).
        cause: the error of the search that should have told whether it was stored
            (also the exception's ``__cause__``); None when the searches worked but the
            window was not over.
        attempts: the number of writes sent.
        repeat_after: seconds until the write can no longer appear (a newborn's window
            ends); None when a repeat is safe at once (a NIK, which the server keeps unique).
    """

    def __init__(
        self,
        *,
        last_error: SatuSehatError,
        cause: BaseException | None = None,
        attempts: int,
        repeat_after: float | None = None,
        resource_type: str = "Patient",
    ):
        self.resource_type = resource_type
        self.last_error = last_error
        self.cause = cause
        self.attempts = attempts
        self.repeat_after = repeat_after
        if cause is not None:
            why = f"the search to check whether it was stored failed too ({_describe(cause)})"
        else:
            why = "the record did not appear in searches within the time the retry budget left"
        later = f"; from another process, only after {repeat_after:.1f}s" if repeat_after else ""
        super().__init__(
            f"the outcome of this {resource_type} create is unknown: its write "
            f"(attempt {attempts}) failed ambiguously ({_describe(last_error)}) and {why}; "
            "the record may or may not exist. Repeating the same create is safe: it "
            f"searches before sending again{later}"
        )


def _describe(error: BaseException) -> str:
    text = redact_niks(str(error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class ResumeRefused(ValidationError):
    """The output cannot be written or resumed safely; ``str()`` says why (one line).

    Raised before anything is sent and before the output is touched.
    """


class CheckpointError(ResumeRefused):
    """The checkpoint does not match its output (damaged, edited or another file's).

    ``str()`` says what does not match, in one line; the output is left untouched.
    """


NARROWER = (
    "narrow the search (by encounter=, subject= with a date range such as "
    "date=ge2024-07-01&date=lt2024-08-01, or _lastUpdated=ge...) until each answer holds "
    "its whole total"
)


class IncompleteSearchError(SatuSehatError):
    """A search that ended with fewer matches than the ``total`` the server announced.

    SATUSEHAT's FHIR store answers at most 100 entries with the true ``total`` and no
    ``next`` link, so the rest cannot be paged to: the result must not pass for complete.

    Attributes:
        resource_type: the type searched.
        total: the server's ``total``.
        received: the matches received (all pages).
    """

    def __init__(self, resource_type: str, *, total: int, received: int) -> None:
        self.resource_type = resource_type
        self.total = total
        self.received = received
        super().__init__(
            f"{resource_type} search incomplete: the server reported total={total} but "
            f"answered {received} and no next link; {NARROWER}"
        )


class AmbiguousIdentifierError(AmbiguousMatchError):
    """Several existing records carry the identifier of the resource to create.

    ``ids`` lists them; none is returned (resolve the duplicates on the server).
    """

    def __init__(
        self,
        ids: Sequence[str],
        *,
        resource_type: str,
        token: str,
        after: SatuSehatError | None = None,
    ) -> None:
        self.ids = tuple(ids)
        self.resource_type = resource_type
        message = (
            f"{len(self.ids)} {resource_type} records ({', '.join(self.ids)}) carry the "
            f"identifier {redact_niks(token)}: cannot tell which one is meant, so none is "
            "returned; resolve the duplicates"
        )
        if after is not None:
            message += (
                f" (this create's own write failed ambiguously, {type(after).__name__}, "
                "and may be one of them)"
            )
        SatuSehatError.__init__(self, message)


class UnverifiableCreateOutcome(CreateOutcomeUnknown):
    """The write of a resource without an identifier failed ambiguously.

    It may or may not be stored, and nothing identifies it to look it up by, so it was
    not sent again (that could store it twice). Check (a search by subject, encounter
    and date) before repeating it; give such resources an identifier
    (:func:`~satusehat_async.resource.local_identifier`) to make their creates idempotent.
    """

    def __init__(self, *, last_error: SatuSehatError, resource_type: str) -> None:
        self.resource_type = resource_type
        self.last_error = last_error
        self.cause = None
        self.attempts = 1
        self.repeat_after = None
        SatuSehatError.__init__(
            self,
            f"the outcome of this {resource_type} create is unknown: its write failed "
            f"ambiguously ({type(last_error).__name__}: {redact_niks(str(last_error))}) and "
            "it carries no identifier to look it up by, so it was not sent again; the "
            "record may or may not exist — check before repeating it",
        )


class TransactionError(APIError):
    """A Bundle transaction the server refused: nothing of it was stored (all or nothing).

    Where the answer's OperationOutcome points at an entry (``Bundle.entry[3].resource...``),
    the error names the entry as the caller added it to the
    :class:`~satusehat_async.fhir.Transaction` (entries already stored are left out of the
    Bundle sent, so the server's index is mapped back).

    Attributes:
        entry_index: the entry's index in the caller's transaction, or None.
        resource_type: its resource type, or None.
        entry: the resource the caller added (model or dict), or None.
        expression: the OperationOutcome's expression, with the caller's index.
        error: the server's answer as first raised (status, body, X-Request-Id).
    """

    def __init__(
        self,
        error: APIError,
        *,
        entry_index: int | None = None,
        resource_type: str | None = None,
        entry: Any = None,
        expression: str | None = None,
    ) -> None:
        self.error = error
        self.entry_index = entry_index
        self.resource_type = resource_type
        self.entry = entry
        self.expression = expression
        where = "the Bundle"
        if entry_index is not None:
            where = f"entry {entry_index} ({resource_type or 'unknown type'})"
            if expression:
                where += f" at {expression}"
        super().__init__(
            f"transaction refused at {where}: {error.message}",
            status=error.status,
            request_id=error.request_id,
            body=error.body,
            method=error.method,
            url=error.url,
            retry_after=error.retry_after,
        )


class UnverifiableTransactionOutcome(UnverifiableCreateOutcome):
    """A Bundle transaction failed ambiguously and some of its entries carry no identifier.

    It may or may not be stored (all of it, or nothing), and those entries cannot be
    looked up, so it was not sent again. Give every created entry an identifier
    (:func:`~satusehat_async.resource.local_identifier`) to make transactions idempotent.
    ``unidentified`` lists the indexes of the entries without one.
    """

    def __init__(self, *, last_error: SatuSehatError, unidentified: Sequence[int]) -> None:
        self.resource_type = "Bundle"
        self.last_error = last_error
        self.cause = None
        self.attempts = 1
        self.repeat_after = None
        self.unidentified = tuple(unidentified)
        listed = ", ".join(map(str, self.unidentified[:10]))
        SatuSehatError.__init__(
            self,
            f"the outcome of this transaction is unknown: its write failed ambiguously "
            f"({_describe(last_error)}) and entries {listed} carry no identifier to look "
            "them up by, so it was not sent again; it may or may not be stored (wholly) — "
            "check before repeating it",
        )

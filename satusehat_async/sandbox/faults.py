"""Faults the sandbox can answer with: random transient ones, and queued deterministic ones.

Every kind answers the way SATUSEHAT's gateway does (see ``reference/satusehat-api.md``):

=====================  ==================================================================
``"504"``              504 ``text/plain`` ``Gateway Timeout``
``"503"``              503 ``text/plain`` ``no healthy upstream``
``"502"``              502 ``text/html`` nginx error page
``"500"``              500 OperationOutcome (``exception``)
``"429"``              429 Apigee quota ``fault`` with ``Retry-After``
``"drop"``             the connection is closed without an answer
``"401_expired"``      401 ``fault``: ``keymanagement.service.access_token_expired``
``"401_invalid"``      401 ``fault``: ``oauth.v2.InvalidAccessToken``
``"token_500"``        the token endpoint answers 500 ``text/plain``
``"commit_then_500"``  a write (POST/PATCH) is committed, then answered with a 500
``"commit_then_504"``  a write is committed, then answered with a 504
``"commit_then_drop"`` a write is committed, then the connection is closed unanswered
=====================  ==================================================================
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

import msgspec
from aiohttp import web

from satusehat_async.errors import ValidationError

__all__ = [
    "AFTER_COMMIT",
    "FAULT_KINDS",
    "RANDOM_FAULT_KINDS",
    "TRANSIENT_FAULT_KINDS",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "WriteFaults",
    "auth_fault",
    "fault_response",
    "random_faults",
]

FaultKind = Literal[
    "504",
    "503",
    "502",
    "500",
    "429",
    "drop",
    "401_expired",
    "401_invalid",
    "token_500",
    "commit_then_500",
    "commit_then_504",
    "commit_then_drop",
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
TRANSIENT_FAULT_KINDS: tuple[FaultKind, ...] = ("504", "503", "429", "502", "drop")
"""The default kinds of random faults: what a gateway throws at you on a bad day."""
RANDOM_FAULT_KINDS: tuple[FaultKind, ...] = (
    *TRANSIENT_FAULT_KINDS,
    "500",
    "401_expired",
    "401_invalid",
    "commit_then_500",
    "commit_then_504",
    "commit_then_drop",
)
"""The kinds a random fault may be drawn from (``fault_kinds=``).

A ``commit_then_*`` kind drawn for a write commits it, then fails the answer; drawn for a
read it is its plain answer (``commit_then_504`` → ``504``): the write is what is ambiguous.
"""
AFTER_COMMIT: dict[FaultKind, FaultKind] = {
    "commit_then_500": "500",
    "commit_then_504": "504",
    "commit_then_drop": "drop",
}
"""Ambiguous write faults, and the answer each gives once the write is committed."""

TOKEN_PATH = "/oauth2/v1/accesstoken"
_WRITES = frozenset({"POST", "PATCH", "PUT"})
_BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_encode = msgspec.json.encode


@dataclass(slots=True)
class FaultRule:
    """A queued fault: answer the next ``remaining`` matching requests with ``kind``."""

    kind: FaultKind
    remaining: int
    method: str | None = None
    path_prefix: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether a request ``method path`` is one this rule applies to.

        ``token_500`` applies to the token endpoint only; ``commit_then_*`` to writes
        (POST/PATCH) only; any other kind to every request but the token endpoint's unless
        ``path_prefix`` says otherwise.
        """
        if self.method is not None and method != self.method:
            return False
        is_token = path == TOKEN_PATH
        if self.kind == "token_500":
            return is_token
        if self.kind in AFTER_COMMIT and (is_token or method not in _WRITES):
            return False
        if self.path_prefix is not None:
            return path.startswith(self.path_prefix)
        return not is_token


class FaultPlan:
    """Decides which request gets which fault: queued rules first, then chance."""

    def __init__(self, rate: float, kinds: Iterable[str], seed: int) -> None:
        kinds = tuple(kinds)
        if not 0.0 <= rate <= 1.0:
            raise ValidationError("fault_rate must be between 0 and 1")
        bad = [kind for kind in kinds if kind not in RANDOM_FAULT_KINDS]
        if bad:
            raise ValidationError(f"not a random fault kind: {bad}; use {RANDOM_FAULT_KINDS}")
        if rate > 0 and not kinds:
            raise ValidationError("fault_kinds is empty but fault_rate is not 0")
        self.rate = rate
        self.kinds: tuple[FaultKind, ...] = tuple(k for k in RANDOM_FAULT_KINDS if k in kinds)
        self._random = random.Random(seed * 7_919 + 17)
        self._queue: deque[FaultRule] = deque()
        # a random commit_then_* drawn for a write, for the same request's second pick
        self._drawn_after_commit: FaultKind | None = None

    def inject(
        self,
        kind: str,
        count: int = 1,
        method: str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """Queue ``kind`` for the next ``count`` matching requests (see ``FaultRule.matches``)."""
        if kind not in FAULT_KINDS:
            raise ValidationError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        if count < 1:
            raise ValidationError("count must be at least 1")
        for known in FAULT_KINDS:  # narrow the str to the Literal without a cast
            if known == kind:
                self._queue.append(
                    FaultRule(known, count, method.upper() if method else None, path_prefix)
                )

    @property
    def pending(self) -> list[FaultRule]:
        """The queued rules not used up yet, in order."""
        return list(self._queue)

    def clear(self) -> None:
        """Forget every queued fault."""
        self._queue.clear()

    def pick(self, method: str, path: str, *, after_commit: bool = False) -> FaultKind | None:
        """The fault for this request, if any (consumes a queued one).

        Asked twice per request, with no await in between: before any work
        (``after_commit=False``: queued answer-only faults, then chance) and, for a write
        that passed the token check, before committing it (``after_commit=True``: the
        ``commit_then_*`` kinds, queued or drawn by the first ask).
        """
        if after_commit:
            drawn, self._drawn_after_commit = self._drawn_after_commit, None
        else:
            self._drawn_after_commit = None
        for rule in self._queue:
            if (rule.kind in AFTER_COMMIT) is after_commit and rule.matches(method, path):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._queue.remove(rule)
                return rule.kind
        if after_commit:
            return drawn
        if self.rate and path != TOKEN_PATH and self._random.random() < self.rate:
            kind = self.kinds[int(self._random.random() * len(self.kinds))]
            if kind not in AFTER_COMMIT:
                return kind
            if method in _WRITES:
                self._drawn_after_commit = kind  # commit first, then fail the answer
                return None
            return AFTER_COMMIT[kind]
        return None


class WriteFaults:
    """The ambiguous write faults drawn by chance, for Patient writes that got no other fault.

    A ``commit_then_*`` kind among a sandbox's ``fault_kinds`` takes its share of
    ``fault_rate``: that fraction of writes commits, then fails its answer.
    """

    def __init__(self, rate: float, kinds: tuple[str, ...], seed: int) -> None:
        self.kinds: tuple[FaultKind, ...] = tuple(k for k in AFTER_COMMIT if k in kinds)
        self.rate = rate * len(self.kinds) / max(1, len(kinds))
        self._random = random.Random(seed * 131 + 3)

    def draw(self) -> FaultKind | None:
        """The fault for this write, or None (most of the time)."""
        if not self.kinds or self._random.random() >= self.rate:
            return None
        return self.kinds[int(self._random.random() * len(self.kinds))]


def random_faults(rate: float, kinds: Iterable[str], seed: int) -> tuple[FaultPlan, WriteFaults]:
    """The plan (answer-only faults, by chance and queued) and the ambiguous write faults
    that a sandbox's ``fault_rate`` and ``fault_kinds`` make.

    Raises:
        ValueError: ``rate`` is not in [0, 1] or a kind cannot be drawn at random.
    """
    kinds = tuple(kinds)
    if not 0.0 <= rate <= 1.0:
        raise ValueError("fault_rate must be between 0 and 1")
    bad = [k for k in kinds if k not in RANDOM_FAULT_KINDS and k not in AFTER_COMMIT]
    if bad:
        allowed = (*RANDOM_FAULT_KINDS, *AFTER_COMMIT)
        raise ValueError(f"not a random fault kind: {bad}; use {allowed}")
    # The plan draws the faults answered before any work; the ambiguous write faults
    # are drawn apart, for writes that got none of those.
    answer_kinds = [k for k in kinds if k not in AFTER_COMMIT]
    plan = FaultPlan(rate if answer_kinds else 0.0, answer_kinds, seed)
    return plan, WriteFaults(rate, kinds, seed)


def auth_fault(expired: bool) -> web.Response:
    """The gateway's 401 ``fault`` envelope for an expired or an unknown/missing token."""
    if expired:
        fault = {
            "faultstring": "Access Token expired",
            "detail": {"errorcode": "keymanagement.service.access_token_expired"},
        }
    else:
        fault = {
            "faultstring": "Invalid access token",
            "detail": {"errorcode": "oauth.v2.InvalidAccessToken"},
        }
    return web.Response(status=401, body=_encode({"fault": fault}), content_type="application/json")


def fault_response(kind: FaultKind, retry_after: str) -> web.Response | None:
    """The answer for ``kind``; ``None`` means: drop the connection without one."""
    kind = AFTER_COMMIT.get(kind, kind)
    if kind == "drop":
        return None
    if kind == "504":
        return web.Response(status=504, text="Gateway Timeout", content_type="text/plain")
    if kind == "503":
        return web.Response(status=503, text="no healthy upstream", content_type="text/plain")
    if kind == "502":
        return web.Response(status=502, text=_BAD_GATEWAY, content_type="text/html")
    if kind == "429":
        body = {
            "fault": {
                "faultstring": "Rate limit quota violation. Quota limit exceeded.",
                "detail": {"errorcode": "policies.ratelimit.QuotaViolation"},
            }
        }
        return web.Response(
            status=429,
            body=_encode(body),
            content_type="application/json",
            headers={"Retry-After": retry_after},
        )
    if kind in ("401_expired", "401_invalid"):
        return auth_fault(expired=kind == "401_expired")
    if kind == "token_500":
        return web.Response(status=500, text="Internal Server Error", content_type="text/plain")
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "exception",
                "details": {"text": "internal_server_error"},
                "diagnostics": "the sandbox was told to fail this request",
            }
        ],
    }
    return web.Response(status=500, body=_encode(outcome), content_type="application/json")

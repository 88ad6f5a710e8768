"""Idempotency: creates that store one record however often they fail and are repeated.

A write (``POST``) cannot be re-sent blindly. :func:`run_create` fixes the identity of a
create before its first attempt, searches before writing (or, where the server answers a
second write of a unique identity with the existing record, writes first: one request),
and after a failure that may have committed searches again before writing again — over
a :class:`ReconcileWindow` when the server does not keep the identity unique. What a
create is known by, and how a found record is matched, is the resource type's
:class:`IdentityPolicy` (the Patient's:
:class:`satusehat_async.patients.policy.PatientIdentity`). Per client, creates of one
identity are serialized (``context.locks``) and the client remembers its fresh records
and its unknown outcomes (:class:`CreateMemory`, ``context.creates``). One
:class:`~satusehat_async.http.retry.RetryBudget` bounds every wait of a create.

- :mod:`.policy` — :class:`IdentityPolicy`, :class:`Identity`, :class:`CreatePlan`, :class:`Created`
- :mod:`.engine` — :func:`run_create`, the create loop
- :mod:`.window` — :class:`ReconcileWindow` and the searches over it
- :mod:`.memory` — :class:`CreateMemory`, per client
- :mod:`.budget` — one create's budget, cut for each of its requests
"""

from satusehat_async.idempotency.budget import request_policy
from satusehat_async.idempotency.engine import memory_key, run_create, worth_reconciling
from satusehat_async.idempotency.memory import CreateMemory, Pending
from satusehat_async.idempotency.policy import (
    Created,
    CreatePlan,
    Identity,
    IdentityPolicy,
    pick,
    write_headers,
)
from satusehat_async.idempotency.window import ReconcileWindow, WindowOutcome, watch_window

__all__ = [
    "CreateMemory",
    "CreatePlan",
    "Created",
    "Identity",
    "IdentityPolicy",
    "Pending",
    "ReconcileWindow",
    "WindowOutcome",
    "memory_key",
    "pick",
    "request_policy",
    "run_create",
    "watch_window",
    "worth_reconciling",
    "write_headers",
]

"""The resource APIs a :class:`~satusehat_async.SatuSehatClient` hands out.

Each is built on first use over the client's :class:`~satusehat_async.context.ResourceContext`
(never the whole client): the facility registry, the patient index, any FHIR type, and
Bundle transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from satusehat_async.context import ResourceContext
    from satusehat_async.msi import MSI
    from satusehat_async.patients import Patients
    from satusehat_async.resource import ResourceAPI
    from satusehat_async.resource.api import R
    from satusehat_async.resource.transaction import Transaction, TransactionResult

__all__ = ["ResourceAccessors"]


class ResourceAccessors:
    """``client.msi``, ``client.patients``, ``client.fhir(...)``, ``client.transaction(...)``."""

    context: ResourceContext
    _msi: MSI | None
    _patients: Patients | None

    @property
    def msi(self) -> MSI:
        """The Master Sarana Index (facility registry)."""
        if self._msi is None:
            from satusehat_async.msi import MSI

            self._msi = MSI(self.context)
        return self._msi

    @property
    def patients(self) -> Patients:
        """The Master Patient Index (FHIR Patient)."""
        if self._patients is None:
            from satusehat_async.patients import Patients

            self._patients = Patients(self.context)
        return self._patients

    @overload
    def fhir(self, kind: type[R]) -> ResourceAPI[R]: ...

    @overload
    def fhir(self, kind: str) -> ResourceAPI[Any]: ...

    def fhir(self, kind: type[R] | str) -> ResourceAPI[Any]:
        """One FHIR type's API (get, search, create, update, patch): ``fhir(Encounter)``."""
        from satusehat_async.resource import ResourceAPI

        return ResourceAPI(self.context, kind)

    async def transaction(
        self, tx: Transaction | Mapping[str, Any], **options: Any
    ) -> TransactionResult:
        """Send a Bundle transaction, idempotently by its entries' identifiers.

        See :func:`satusehat_async.resource.transaction` for what is guaranteed.
        """
        from satusehat_async.resource.txsend import transaction

        return await transaction(self.context, tx, **options)

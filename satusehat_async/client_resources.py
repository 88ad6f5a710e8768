"""The resource APIs a :class:`~satusehat_async.SatuSehatClient` hands out.

Each is built on first use over the client's :class:`~satusehat_async.context.ResourceContext`
(never the whole client) and kept (so its caches live as long as the client): the facility
registry, the patient index, practitioners, organizations and locations, the KFA drug
dictionary, consent, region codes, KYC, any FHIR type, and Bundle transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from satusehat_async.consent import ConsentAPI
    from satusehat_async.context import ResourceContext
    from satusehat_async.kfa import KFA
    from satusehat_async.kyc import KYC
    from satusehat_async.msi import MSI
    from satusehat_async.organizations import Locations, Organizations
    from satusehat_async.patients import Patients
    from satusehat_async.practitioners import Practitioners
    from satusehat_async.resource import ResourceAPI
    from satusehat_async.resource.api import R
    from satusehat_async.resource.transaction import Transaction, TransactionResult
    from satusehat_async.wilayah import Wilayah

__all__ = ["ResourceAccessors"]

_A = TypeVar("_A")


class ResourceAccessors:
    """``client.msi``, ``client.patients``, ``client.practitioners``, ``client.kfa``, ...,
    ``client.fhir(...)``, ``client.transaction(...)``."""

    context: ResourceContext
    _apis: dict[str, object]

    def _api(self, name: str, build: Callable[[ResourceContext], _A]) -> _A:
        """The API called ``name``, built by ``build(context)`` on first use, then kept."""
        api = self._apis.get(name)
        if api is None:
            api = self._apis[name] = build(self.context)
        return api  # type: ignore[return-value]  # built by `build` under this name

    @property
    def msi(self) -> MSI:
        """The Master Sarana Index (facility registry)."""
        from satusehat_async.msi import MSI

        return self._api("msi", MSI)

    @property
    def patients(self) -> Patients:
        """The Master Patient Index (FHIR Patient)."""
        from satusehat_async.patients import Patients

        return self._api("patients", Patients)

    @property
    def practitioners(self) -> Practitioners:
        """Practitioners (health workers) by NIK: cached, single-flight look-ups."""
        from satusehat_async.practitioners import Practitioners

        return self._api("practitioners", Practitioners)

    @property
    def organizations(self) -> Organizations:
        """The organization's structure: sub-organizations (departments), and its tree."""
        from satusehat_async.organizations import Organizations

        return self._api("organizations", Organizations)

    @property
    def locations(self) -> Locations:
        """Locations (sites, buildings, wards, rooms, beds) of the organization."""
        from satusehat_async.organizations import Locations

        return self._api("locations", Locations)

    @property
    def kfa(self) -> KFA:
        """The KFA (Kamus Farmasi dan Alat Kesehatan): drug and device codes, prices."""
        from satusehat_async.kfa import KFA

        return self._api("kfa", KFA)

    @property
    def consent(self) -> ConsentAPI:
        """A patient's consent to share their data (OPTIN / OPTOUT)."""
        from satusehat_async.consent import ConsentAPI

        return self._api("consent", ConsentAPI)

    @property
    def wilayah(self) -> Wilayah:
        """The Kemendagri region codes (provinces, cities, districts, sub-districts): cached."""
        from satusehat_async.wilayah import Wilayah

        return self._api("wilayah", Wilayah)

    @property
    def kyc(self) -> KYC:
        """Identity verification in SATUSEHAT Mobile (production only; the ``kyc`` extra)."""
        from satusehat_async.kyc import KYC

        return self._api("kyc", KYC)

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

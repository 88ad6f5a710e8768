"""Issue 11: organization-scoped identifiers and the client's organization id."""

from __future__ import annotations

import pytest

from satusehat_async import ConfigurationError, SatuSehatClient
from satusehat_async.errors import ValidationError
from satusehat_async.fhir import Encounter, Identifier
from satusehat_async.resource import check_organization, local_identifier, local_organization


def test_local_identifier_builds_the_organizations_system() -> None:
    made = local_identifier("encounter", "RJ-2026-0001", organization_id="100025753")
    assert isinstance(made, Identifier)
    assert made.system == "http://sys-ids.kemkes.go.id/encounter/100025753"
    assert made.value == "RJ-2026-0001" and made.use is None
    official = local_identifier(
        "servicerequest", "LAB-1", organization_id="10000004", use="official"
    )
    assert official.use == "official"
    assert official.system == "http://sys-ids.kemkes.go.id/servicerequest/10000004"


@pytest.mark.parametrize(
    ("kind", "value", "org"),
    [
        ("encounter", "RJ-1", None),
        ("encounter", "RJ-1", "10/0"),
        ("encounter", "RJ-1", ".."),
        ("Encounter", "RJ-1", "100025753"),
        ("enc/ounter", "RJ-1", "100025753"),
        ("encounter", "", "100025753"),
        ("encounter", " RJ-1", "100025753"),
    ],
)
def test_local_identifier_refuses_bad_parts(kind: str, value: str, org: str | None) -> None:
    with pytest.raises(ValidationError):
        local_identifier(kind, value, organization_id=org)


def test_local_organization_reads_the_org_of_local_systems_only() -> None:
    assert local_organization("http://sys-ids.kemkes.go.id/encounter/100025753") == "100025753"
    assert local_organization("http://sys-ids.kemkes.go.id/diagnostic/100025753/lab") == "100025753"
    assert local_organization("http://sys-ids.kemkes.go.id/kfa") is None
    assert local_organization("https://fhir.kemkes.go.id/id/nik") is None
    assert local_organization(None) is None


def test_check_organization_names_both_ids() -> None:
    wrong = Encounter(identifier=[local_identifier("encounter", "A", organization_id="123")])
    check_organization(wrong, None, "Encounter")  # nothing configured: nothing to check
    check_organization(wrong, "123", "Encounter")
    with pytest.raises(ValidationError) as info:
        check_organization(wrong, "100025753", "Encounter")
    message = str(info.value)
    assert "123" in message and "100025753" in message and "10117" in message


def test_client_organization_id_from_argument_and_environment() -> None:
    assert SatuSehatClient("id", "secret").organization_id is None
    client = SatuSehatClient("id", "secret", organization_id="100025753")
    assert client.organization_id == "100025753"
    assert client.context.organization_id == "100025753"
    env = {
        "SATUSEHAT_CLIENT_ID": "id",
        "SATUSEHAT_CLIENT_SECRET": "secret",
        "SATUSEHAT_ORGANIZATION_ID": " 10000004 ",
    }
    assert SatuSehatClient.from_env(env).organization_id == "10000004"
    assert SatuSehatClient.from_env(env, organization_id="1").organization_id == "1"
    with pytest.raises(ConfigurationError, match="SATUSEHAT_ORGANIZATION_ID"):
        SatuSehatClient.from_env({**env, "SATUSEHAT_ORGANIZATION_ID": "not an id"})
    with pytest.raises(ConfigurationError, match="organization_id"):
        SatuSehatClient("id", "secret", organization_id="a/b")


def test_api_local_identifier_needs_the_clients_organization() -> None:
    with pytest.raises(ValidationError, match="organization_id is required"):
        SatuSehatClient("id", "secret").fhir(Encounter).local_identifier("RJ-1")
    api = SatuSehatClient("id", "secret", organization_id="100025753").fhir("Condition")
    assert api.local_identifier("C-1").system == "http://sys-ids.kemkes.go.id/condition/100025753"
    other = api.local_identifier("P-1", kind="prescription")
    assert other.system == "http://sys-ids.kemkes.go.id/prescription/100025753"

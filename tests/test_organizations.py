"""``client.organizations`` / ``client.locations``: idempotent creates and the tree.

Against the embedded sandbox (whose store refuses a second resource with the same local
identifier, RuleNumber 10117 for another organization's, and serves the ``partof`` and
``organization`` searches).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from satusehat_async import SatuSehatClient
from satusehat_async.errors import ValidationError
from satusehat_async.fhir import CodeableConcept, Coding, Location, Organization, Reference
from satusehat_async.organizations import OrganizationTree
from satusehat_async.retry import RetryPolicy
from satusehat_async.sandbox import LocalSandbox

ORG = "10000004"
PHYSICAL = "http://terminology.hl7.org/CodeSystem/location-physical-type"


@pytest.fixture
async def sb() -> AsyncIterator[LocalSandbox]:
    async with LocalSandbox(facilities=1, seed=4) as sandbox:
        yield sandbox


@pytest.fixture
async def client(sb: LocalSandbox) -> AsyncIterator[SatuSehatClient]:
    fast = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002)
    async with sb.client(retry=fast) as c:
        yield c


async def build(client: Any) -> dict[str, Any]:
    """A small hospital: two departments (one under the other), a building with two
    rooms, a ward with two beds."""
    orgs, locs = client.organizations, client.locations
    made: dict[str, Any] = {}
    made["RJ"] = await orgs.create(identifier="RJ", name="Rawat Jalan Terpadu")
    made["RJ-A"] = await orgs.create(identifier="RJ-A", name="Poli Anak", part_of=made["RJ"].id)
    made["RI"] = await orgs.create(
        {
            "resourceType": "Organization",
            "identifier": [
                {"system": f"http://sys-ids.kemkes.go.id/organization/{ORG}", "value": "RI"}
            ],
            "name": "Rawat Inap",
            "partOf": {"reference": f"Organization/{ORG}"},
        }
    )
    made["G"] = await locs.create(identifier="G", name="Gedung G", physical_type="bu")
    for room in ("G-1", "G-2"):
        made[room] = await locs.create(
            identifier=room,
            name=f"Ruang {room}",
            part_of=made["G"].id,
            managing_organization=made["RJ-A"].id,
        )
    made["W"] = await locs.create(
        identifier="W",
        name="Bangsal Melati",
        physical_type="wa",
        managing_organization=made["RI"].id,
    )
    physical = {"coding": [{"system": PHYSICAL, "code": "bd"}]}
    # one bed as a struct, one as a FHIR dict
    made["W-1"] = await locs.create(
        Location(
            identifier=[locs.api.local_identifier("W-1")],
            name="Bed W-1",
            status="active",
            physical_type=CodeableConcept(coding=[Coding(system=PHYSICAL, code="bd")]),
            part_of=Reference(reference=f"Location/{made['W'].id}"),
            managing_organization=Reference(reference=f"Organization/{made['RI'].id}"),
        )
    )
    made["W-2"] = await locs.create(
        {
            "resourceType": "Location",
            "identifier": [
                {"system": f"http://sys-ids.kemkes.go.id/location/{ORG}", "value": "W-2"}
            ],
            "name": "Bed W-2",
            "status": "active",
            "physicalType": physical,
            "partOf": {"reference": f"Location/{made['W'].id}"},
            "managingOrganization": {"reference": f"Organization/{made['RI'].id}"},
        }
    )
    return made


async def test_creates_are_idempotent_by_identifier(sb: LocalSandbox, client: Any) -> None:
    first = await build(client)
    assert all(r.created for r in first.values())
    assert sb.resources.count("Organization") == 3 and sb.resources.count("Location") == 6
    posts = sb.stats.requests_by_path["POST /fhir-r4/v1/{type}"]
    second = await build(client)
    assert {k: (r.id, r.created) for k, r in second.items()} == {
        k: (r.id, False) for k, r in first.items()
    }
    assert sb.stats.requests_by_path["POST /fhir-r4/v1/{type}"] == posts  # nothing re-sent
    assert sb.resources.count("Organization") == 3 and sb.resources.count("Location") == 6


async def test_what_is_sent_follows_the_documented_shape(sb: LocalSandbox, client: Any) -> None:
    made = await build(client)
    dept = sb.resources.get("Organization", made["RJ-A"].id)
    assert dept is not None
    assert dept["identifier"] == [
        {
            "system": f"http://sys-ids.kemkes.go.id/organization/{ORG}",
            "use": "official",
            "value": "RJ-A",
        }
    ]
    assert dept["partOf"] == {"reference": f"Organization/{made['RJ'].id}"}
    assert dept["type"][0]["coding"][0]["code"] == "dept" and dept["active"] is True
    top = sb.resources.get("Organization", made["RJ"].id)
    assert top is not None and top["partOf"] == {"reference": f"Organization/{ORG}"}
    room = sb.resources.get("Location", made["G-1"].id)
    assert room is not None
    assert room["identifier"][0]["system"] == f"http://sys-ids.kemkes.go.id/location/{ORG}"
    assert room["physicalType"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
        "code": "ro",
        "display": "Room",
    }
    assert room["partOf"] == {"reference": f"Location/{made['G'].id}"}
    assert room["managingOrganization"] == {"reference": f"Organization/{made['RJ-A'].id}"}
    assert (room["status"], room["mode"]) == ("active", "instance")
    building = sb.resources.get("Location", made["G"].id)
    assert building is not None and "partOf" not in building
    assert building["managingOrganization"] == {"reference": f"Organization/{ORG}"}


async def test_the_tree_can_be_walked(sb: LocalSandbox, client: Any) -> None:
    made = await build(client)
    tree = await client.organizations.tree()
    assert isinstance(tree, OrganizationTree) and not tree.incomplete
    assert tree.root.id == ORG and not tree.root.found  # the facility's record: not stored
    assert sorted(n.identifiers[0] for n in tree.root.children) == ["RI", "RJ"]
    rj = tree.organization("RJ")
    assert rj is not None and [c.identifiers for c in rj.children] == [["RJ-A"]]
    assert isinstance(rj.organization, Organization) and rj.name == "Rawat Jalan Terpadu"
    poli = tree.organization("RJ-A")
    assert poli is not None and poli.children == []
    assert sorted(n.identifiers[0] for n in poli.locations) == ["G-1", "G-2"]  # managed by it
    ward = tree.location("W")
    assert ward is not None and ward.physical_type == "wa"
    assert sorted(c.identifiers[0] for c in ward.children) == ["W-1", "W-2"]
    assert [n.identifiers[0] for n in tree.root.locations] == ["G"]
    assert sorted(n.identifiers[0] for n in tree.organizations() if n.found) == ["RI", "RJ", "RJ-A"]
    assert sorted(n.identifiers[0] for n in tree.locations()) == sorted(
        ["G", "G-1", "G-2", "W", "W-1", "W-2"]
    )
    assert tree.location(made["W-1"].id) is tree.location("W-1")
    assert "Bangsal Melati" in tree.render() and tree.organization("nope") is None
    # a subtree: rooted at a department (read, found)
    sub = await client.organizations.tree(made["RJ"].id)
    assert sub.root.found and [c.identifiers for c in sub.root.children] == [["RJ-A"]]
    assert sorted(n.identifiers[0] for n in sub.locations()) == ["G-1", "G-2"]


async def test_the_tree_sends_each_level_concurrently(sb: LocalSandbox, client: Any) -> None:
    await build(client)
    sb.reset_stats()
    sb.latency = 0.02  # each answer takes a while: searches sent together overlap
    await client.organizations.tree(concurrency=8)
    # 3 levels (facility; RJ, RI; RJ-A), each organization searched twice, plus the root read
    searches = sb.stats.requests_by_path["GET /fhir-r4/v1/{type}"]
    assert searches == 2 * 4 and sb.stats.max_in_flight >= 4  # RJ's and RI's two each
    sb.reset_stats()
    await client.organizations.tree(concurrency=1)
    assert sb.stats.max_in_flight == 1


async def test_the_tree_keeps_each_record_once_through_a_cycle(
    sb: LocalSandbox, client: Any
) -> None:
    a = await client.organizations.create(identifier="A", name="A")
    b = await client.organizations.create(identifier="B", name="B", part_of=a.id)
    await client.organizations.api.patch(
        a.id, [{"op": "replace", "path": "/partOf", "value": {"reference": f"Organization/{b.id}"}}]
    )
    tree = await client.organizations.tree(a.id)
    assert [n.identifiers[0] for n in tree.organizations()] == ["A", "B"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.organizations.create(identifier="X", name="  "), "name"),
        (lambda c: c.organizations.create(name="X"), "identifier"),
        (lambda c: c.organizations.create(identifier="X", name="X", type="hospital"), "type"),
        (lambda c: c.organizations.create(identifier="X", name="X", part_of="Location/1"), "part"),
        (lambda c: c.locations.create(identifier="X", name="X", physical_type="room"), "physical"),
        (lambda c: c.locations.create(identifier="X", name=""), "name"),
        (lambda c: c.locations.create(identifier=" X", name="X"), "spaces"),
        (lambda c: c.locations.create(identifier="X", name="X", part_of="Organization/1"), "Loc"),
        (lambda c: c.locations.create(identifier="X", name="X", status="open"), "status"),
        (lambda c: c.locations.create({"resourceType": "Location", "name": "X"}), "identifier"),
        (
            lambda c: c.locations.create(
                {
                    "resourceType": "Location",
                    "name": "X",
                    "identifier": [
                        {"system": "http://sys-ids.kemkes.go.id/location/999", "value": "X"}
                    ],
                }
            ),
            "identifier",
        ),
        (lambda c: c.organizations.create({"resourceType": "Organization", "nmae": "X"}), "nmae"),
        (lambda c: c.organizations.create({"resourceType": "Location"}, name="X"), "either"),
    ],
)
async def test_bad_input_is_refused_before_sending(
    sb: LocalSandbox, client: Any, call: Any, message: str
) -> None:
    sb.reset_stats()
    with pytest.raises(ValidationError, match=message):
        await call(client)
    assert sb.stats.requests == 0


async def test_without_an_organization_id_nothing_is_sent(sb: LocalSandbox) -> None:
    async with sb.client(organization_id=None) as bare:
        sb.reset_stats()
        with pytest.raises(ValidationError, match="organization_id is required"):
            await bare.organizations.create(identifier="X", name="X")
        with pytest.raises(ValidationError, match="organization_id is required"):
            await bare.locations.create(identifier="X", name="X")
        with pytest.raises(ValidationError, match="organization_id is required"):
            await bare.organizations.tree()
        assert sb.stats.requests == 0


async def test_build_shows_what_would_be_sent(client: Any) -> None:
    bed = client.locations.build(
        identifier="B-1",
        name="Bed 1",
        physical_type="bd",
        part_of="abc",
        position={"longitude": 106.8, "latitude": -6.2},
        telecom=[{"system": "phone", "value": "2328"}],
    )
    assert isinstance(bed, Location) and bed.part_of.reference == "Location/abc"
    assert bed.physical_type.coding[0].display == "Bed" and bed.position is not None
    dept = client.organizations.build(identifier="D", name="D", type="team")
    assert dept.type[0].coding[0].code == "team"


async def test_a_tree_cut_short_by_satusehat_paging_says_so() -> None:
    # SATUSEHAT's store answers at most 100 matches and no next link: the tree must not
    # pass for complete
    async with LocalSandbox(facilities=1, fhir_search_style="satusehat") as sb:
        for n in range(101):
            sb.resources.add(
                {
                    "resourceType": "Location",
                    "identifier": [
                        {"system": f"http://sys-ids.kemkes.go.id/location/{ORG}", "value": f"B{n}"}
                    ],
                    "name": f"Bed {n}",
                    "managingOrganization": {"reference": f"Organization/{ORG}"},
                }
            )
        async with sb.client() as client:
            tree = await client.organizations.tree()
    assert tree.incomplete and len(list(tree.locations())) == 100

"""NIK, NIK-ibu and IHS number helpers: validation happens before anything is sent."""

from __future__ import annotations

import pytest

from satusehat_async.errors import ValidationError
from satusehat_async.patients import (
    IHS_NUMBER_SYSTEM,
    NIK_IBU_SYSTEM,
    NIK_SYSTEM,
    Identifier,
    find_identifier,
    identifier_token,
    ihs_number_identifier,
    is_masked,
    is_valid_nik,
    mask_nik,
    nik_ibu_identifier,
    nik_identifier,
    parse_identifier_token,
    search_params,
    validate_ihs_number,
    validate_nik,
)


@pytest.mark.parametrize(
    "nik",
    [
        "3171012345678901",  # the MPI documents' own example (its "date" is not one)
        "9104025209000006",  # a sandbox test mother in captured SATUSEHAT traffic
        "3273015708950003",
        "1101010101010001",
    ],
)
def test_valid_niks(nik: str) -> None:
    assert validate_nik(nik) == nik
    assert is_valid_nik(nik)


def test_surrounding_spaces_are_removed() -> None:
    assert validate_nik(" 3171012345678901\n") == "3171012345678901"


@pytest.mark.parametrize(
    ("nik", "reason"),
    [
        ("317101234567890", "16 digits"),  # 15 digits
        ("31710123456789012", "16 digits"),
        ("3171O12345678901", "16 digits"),  # a letter O
        ("\uff13\uff11\uff17\uff11" * 4, "16 digits"),  # full-width digits are not ASCII
        ("0000000000000000", "province"),
        ("1012345678901234", "province"),  # province codes start at 11
        ("3171012345670000", "serial"),
        ("1111111111111111", "repeated"),
        ("################", "16 digits"),  # a masked NIK from a search answer
        ("", "16 digits"),
    ],
)
def test_invalid_niks(nik: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        validate_nik(nik)
    assert not is_valid_nik(nik)


def test_validation_error_is_a_value_error_and_names_the_kind() -> None:
    with pytest.raises(ValueError, match="NIK-ibu"):
        validate_nik("123", what="NIK-ibu")
    with pytest.raises(ValidationError, match="string"):
        validate_nik(3171012345678901)  # an int would lose leading zeros: refused


def test_ihs_number() -> None:
    assert validate_ihs_number("P02280547535") == "P02280547535"
    for bad in ("02280547535", "P0228054753", "p02280547535", "P022805475351", None):
        with pytest.raises(ValidationError):
            validate_ihs_number(bad)


def test_identifier_builders() -> None:
    assert nik_identifier("3171012345678901") == Identifier(
        use="official", system=NIK_SYSTEM, value="3171012345678901"
    )
    assert nik_ibu_identifier("3171012345678901").system == NIK_IBU_SYSTEM
    assert ihs_number_identifier("P02280547535").system == IHS_NUMBER_SYSTEM
    with pytest.raises(ValidationError):
        nik_identifier("12")
    with pytest.raises(ValidationError, match="NIK-ibu"):
        nik_ibu_identifier("12")


def test_tokens_and_lookup() -> None:
    token = identifier_token(NIK_SYSTEM, "3171012345678901")
    assert token == "https://fhir.kemkes.go.id/id/nik|3171012345678901"
    assert parse_identifier_token(token) == (NIK_SYSTEM, "3171012345678901")
    for bad in ("no-bar", "|value", "system|"):
        with pytest.raises(ValidationError):
            parse_identifier_token(bad)
    identifiers = [
        Identifier(system=IHS_NUMBER_SYSTEM, value="P02280547535"),
        Identifier(system=NIK_SYSTEM, value="################"),
    ]
    assert find_identifier(identifiers, NIK_SYSTEM) == "################"
    assert find_identifier(identifiers, NIK_IBU_SYSTEM) is None
    assert find_identifier(None, NIK_SYSTEM) is None


def test_is_masked() -> None:
    assert is_masked("################")
    assert is_masked("Sa** An** Ri**")
    assert not is_masked("3171012345678901")
    assert not is_masked(None)


# -- no full NIK in an error message --------------------------------------------------------

# Rejected for each reason validate_nik knows, and shapes a typo makes.
REJECTED = [
    "3171012345670000",  # serial 0000
    "1012345678901234",  # province 10
    "1111111111111111",  # one digit repeated
    "317101234567890",  # 15 digits
    "31710123456789012",  # 17 digits
    "3171O12345678901",  # a letter O
    "  3171012345670000  ",
]


def test_mask_nik() -> None:
    assert mask_nik("3171012345678901") == "3171********8901"
    assert mask_nik("31710123456789012") == "3171********9012"
    assert mask_nik("12345") == "*****"
    assert mask_nik("") == ""


@pytest.mark.parametrize("nik", REJECTED)
def test_rejected_nik_is_masked_in_the_message(nik: str) -> None:
    value = nik.strip()
    for check in (
        validate_nik,
        lambda v: validate_nik(v, what="NIK-ibu"),
        nik_identifier,
        nik_ibu_identifier,
        validate_ihs_number,
        lambda v: parse_identifier_token(v),
        lambda v: parse_identifier_token(f"|{v}"),
        lambda v: search_params(nik=v),
        lambda v: search_params(nik_ibu=v),
        lambda v: search_params(identifier=v),
        lambda v: search_params(identifier=f"{NIK_SYSTEM}|{v}"),
    ):
        with pytest.raises(ValidationError) as info:
            check(nik)
        text = str(info.value)
        assert value not in text
        assert value[4:-4] not in text  # not even the middle digits
    with pytest.raises(ValidationError, match=r"'3171\*{8}"):
        validate_nik("3171012345670000")


async def test_plan_of_a_patient_with_a_bad_nik_masks_it() -> None:
    from satusehat_async.patients.idempotent import plan_create

    for system in (NIK_SYSTEM, NIK_IBU_SYSTEM):
        with pytest.raises(ValidationError) as info:
            plan_create({"identifier": [{"system": system, "value": "3171012345670000"}]})
        assert "3171012345670000" not in str(info.value)
        assert "3171********0000" in str(info.value)

"""Validation of MSI queries: everything the API would refuse is refused before sending."""

from __future__ import annotations

import datetime as dt

import pytest

from satusehat_async.errors import ValidationError
from satusehat_async.msi.query import (
    MAX_PAGE_SIZE,
    FacilityQuery,
    FacilityType,
    validate_page_size,
)


def test_defaults_cover_the_four_named_types() -> None:
    query = FacilityQuery.build()
    assert query.jenis_sarana == (101, 102, 103, 104)
    assert query.params(page=1, page_size=2000) == {
        "limit": 2000,
        "page": 1,
        "jenis_sarana": [101, 102, 103, 104],
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (104, (104,)),
        ("103", (103,)),
        (FacilityType.KLINIK, (103,)),
        ([104, 103, 104], (104, 103)),
        ((101, "102"), (101, 102)),
        ([105], (105,)),  # codes beyond the named four are allowed
    ],
)
def test_jenis_sarana_one_or_many(given: object, expected: tuple[int, ...]) -> None:
    assert FacilityQuery.build(jenis_sarana=given).jenis_sarana == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [[], "klinik", True, [1.5j], [0], [-103], [None]])
def test_bad_jenis_sarana(bad: object) -> None:
    with pytest.raises(ValidationError, match="jenis_sarana"):
        FacilityQuery.build(jenis_sarana=bad)  # type: ignore[arg-type]


def test_full_query_params() -> None:
    query = FacilityQuery.build(
        jenis_sarana=[104, 103],
        kode_provinsi="32",
        kode_kabkota=3271,
        kode_kecamatan="327101",
        kode_satusehat="1000156689",
        kode_sarana=" 1230458 ",
        nama="Bogor",
        status_aktif=False,
        status_sarana="Valid",
        sumber_identifier="sisdmk_sarana",
        identifier_kode_sarana="R3508055",
        lower_bound_updated_at=dt.date(2023, 8, 1),
        upper_bound_updated_at="2023-08-15T10:00:00Z",
    )
    assert query.params(page=3, page_size=500) == {
        "limit": 500,
        "page": 3,
        "jenis_sarana": [104, 103],
        "kode_provinsi": "32",
        "kode_kabkota": "3271",
        "kode_kecamatan": "327101",
        "kode_satusehat": "1000156689",
        "kode_sarana": "1230458",
        "nama": "Bogor",
        "status_aktif": "false",
        "status_sarana": "valid",
        "sumber_identifier": "sisdmk_sarana",
        "identifier_kode_sarana": "R3508055",
        "lower_bound_updated_at": "2023-08-01",
        "upper_bound_updated_at": "2023-08-15",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kode_provinsi": "3"}, "kode_provinsi must be a 2-digit code"),
        ({"kode_provinsi": "321"}, "kode_provinsi"),
        ({"kode_provinsi": "ab"}, "kode_provinsi"),
        ({"kode_provinsi": True}, "kode_provinsi"),
        ({"kode_kabkota": "327"}, "kode_kabkota must be a 4-digit code"),
        ({"kode_kecamatan": "32710"}, "kode_kecamatan must be a 6-digit code"),
        ({"kode_satusehat": "123"}, "kode_satusehat must be a 10-digit code"),
        ({"kode_provinsi": "32", "kode_kabkota": "3371"}, "not in kode_provinsi"),
        ({"kode_kabkota": "3271", "kode_kecamatan": "337101"}, "not in kode_kabkota"),
        ({"kode_provinsi": "32", "kode_kecamatan": "337101"}, "not in kode_provinsi"),
        ({"status_aktif": "true"}, "status_aktif must be True or False"),
        ({"status_sarana": "approved"}, "status_sarana must be one of"),
        ({"sumber_identifier": "sisdmk_sarana"}, "must be given together"),
        ({"identifier_kode_sarana": "R1"}, "must be given together"),
        ({"sumber_identifier": "x", "identifier_kode_sarana": "R1"}, "sumber_identifier must"),
        ({"nama": "   "}, "nama must be a non-empty string"),
        ({"kode_sarana": 5}, "kode_sarana"),
        ({"lower_bound_updated_at": "15-08-2023"}, "lower_bound_updated_at must be a date"),
        ({"upper_bound_updated_at": 20230815}, "upper_bound_updated_at must be a date"),
        (
            {"lower_bound_updated_at": "2023-09-01", "upper_bound_updated_at": "2023-08-01"},
            "is after",
        ),
    ],
)
def test_bad_input_raises_validation_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        FacilityQuery.build(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_dates_from_datetimes_and_strings() -> None:
    query = FacilityQuery.build(
        lower_bound_updated_at=dt.datetime(2023, 8, 15, 23, 59),
        upper_bound_updated_at=" 2023-08-16 ",
    )
    assert query.lower_bound_updated_at == "2023-08-15"
    assert query.upper_bound_updated_at == "2023-08-16"


@pytest.mark.parametrize("size", [1, 500, MAX_PAGE_SIZE])
def test_page_size_in_range(size: int) -> None:
    assert validate_page_size(size) == size


@pytest.mark.parametrize("size", [0, -1, 2001, 10_000, True, 2.0, "2000", None])
def test_page_size_out_of_range(size: object) -> None:
    with pytest.raises(ValidationError, match="page_size"):
        validate_page_size(size)


def test_fingerprint_is_stable_and_query_specific() -> None:
    a = FacilityQuery.build(jenis_sarana=104, kode_provinsi="32")
    b = FacilityQuery.build(jenis_sarana="104", kode_provinsi=" 32")
    c = FacilityQuery.build(jenis_sarana=104, kode_provinsi="33")
    assert a == b and a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()
    assert len(a.fingerprint()) == 16


def test_params_carry_plain_ints_whatever_the_python_version() -> None:
    for query in (FacilityQuery.build(), FacilityQuery.build(jenis_sarana=FacilityType.KLINIK)):
        codes = query.params(page=1, page_size=10)["jenis_sarana"]
        assert isinstance(codes, list)
        assert all(type(code) is int for code in codes)
        assert [str(code) for code in codes][-1] in ("103", "104")

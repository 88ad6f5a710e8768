"""Models and decoding of MSI pages: the documented example and the registry's sloppiness."""

from __future__ import annotations

import logging

import msgspec
import pytest

from satusehat_async.errors import APIError, BadRequestError
from satusehat_async.msi.decode import decode_page, repair
from satusehat_async.msi.models import Facility, FacilityPage, Wilayah

# The documentation's example page (master-sarana-index-rest-api, "Contoh Data"), with the
# "/* lompat beberapa data */" comments removed so it is JSON.
SEED_PAGE = b"""{
 "status_code": 200,
 "message": "Success",
 "page": 1,
 "total_page": 1849,
 "data": [
  {
   "kode_satusehat": "1000156689",
   "kode_sarana": "1230458",
   "nama": "Klinik TelkoMedika Health Center 19 Bogor",
   "telp": "082128617274_",
   "email": "thc19bogor.telkomedika@gmail.com",
   "website": null,
   "longitude": null,
   "latitude": null,
   "operasional": true,
   "wilayah_perairan_darat": null,
   "wilayah_karakteristik": null,
   "sarana_administrasi": {
    "kode": null,
    "nama": null,
    "kode_sarana": null,
    "status_aktif": null,
    "status_sarana": null
   },
   "alamat": "Jl. Pengadilan No. 14, RT. 02/ RW. 01, Kelurahan Pabaton, Kecamatan Bogor Tengah, Kota Bogor",
   "provinsi": {
    "kode": "32",
    "nama": "Jawa Barat",
    "kode_bps": "32",
    "kode_lama": "32"
   },
   "kabkota": {
    "kode": "3271",
    "nama": "Kota Bogor",
    "kode_bps": "3271",
    "kode_lama": "3271"
   },
   "jenis_sarana": {
    "kode": "103",
    "nama": "Klinik",
    "nama_alt": "Klinik"
   },
   "subjenis": {
    "kode": "10301",
    "nama": "Klinik Pratama",
    "nama_alt": null
   },
   "kelas_sarana": {
    "kode": null,
    "nama": null
   },
   "status_sarana": "valid",
   "status_aktif": true
  },
  {
   "kode_satusehat": "1000208262",
   "kode_sarana": "1232475",
   "nama": "Satria Namira Husada 49",
   "telp": "0811324033___",
   "email": "klinikbpjs49@gmail.com",
   "website": null,
   "longitude": null,
   "latitude": null,
   "operasional": true,
   "wilayah_perairan_darat": null,
   "wilayah_karakteristik": null,
   "sarana_administrasi": {
    "kode": null,
    "nama": null,
    "kode_sarana": null,
    "status_aktif": null,
    "status_sarana": null
   },
   "alamat": "Jl. Raya Buduran No 337 Buduran Sidoarjo",
   "provinsi": {
    "kode": "35",
    "nama": "Jawa Timur",
    "kode_bps": "35",
    "kode_lama": "35"
   },
   "kabkota": {
    "kode": "3515",
    "nama": "Kab. Sidoarjo",
    "kode_bps": "3515",
    "kode_lama": "3515"
   },
   "jenis_sarana": {
    "kode": "103",
    "nama": "Klinik",
    "nama_alt": "Klinik"
   },
   "subjenis": {
    "kode": "10301",
    "nama": "Klinik Pratama",
    "nama_alt": null
   },
   "kelas_sarana": {
    "kode": null,
    "nama": null
   },
   "status_sarana": "valid",
   "status_aktif": true
  },
  {
   "kode_satusehat": "1000262775",
   "kode_sarana": "3275070",
   "nama": "RS umum Daerah Teluk Pucung",
   "telp": null,
   "email": null,
   "website": null,
   "longitude": null,
   "latitude": null,
   "operasional": true,
   "wilayah_perairan_darat": null,
   "wilayah_karakteristik": null,
   "sarana_administrasi": {
    "kode": null,
    "nama": null,
    "kode_sarana": null,
    "status_aktif": null,
    "status_sarana": null
   },
   "alamat": "Jl. Lingkar Utara Kel. Teluk Pucung Kec. Bekasi Utara",
   "provinsi": {
    "kode": "32",
    "nama": "Jawa Barat",
    "kode_bps": "32",
    "kode_lama": "32"
   },
   "kabkota": {
    "kode": "3275",
    "nama": "Kota Bekasi",
    "kode_bps": "3275",
    "kode_lama": "3275"
   },
   "jenis_sarana": {
    "kode": "104",
    "nama": "Rumah Sakit",
    "nama_alt": "RS"
   },
   "subjenis": {
    "kode": "10401",
    "nama": "Rumah Sakit Umum",
    "nama_alt": "RSU"
   },
   "kelas_sarana": {
    "kode": "nakes",
    "nama": "Pendidikan & Pelatihan Tenaga Kesehatan"
   },
   "status_sarana": "valid",
   "status_aktif": true
  },
  {
   "kode_satusehat": "1000260600",
   "kode_sarana": "9110011",
   "nama": "RS Umum Pratama Type D Kab. Maybrat",
   "telp": "085244394272_",
   "email": null,
   "website": null,
   "longitude": null,
   "latitude": null,
   "operasional": true,
   "wilayah_perairan_darat": null,
   "wilayah_karakteristik": null,
   "sarana_administrasi": {
    "kode": null,
    "nama": null,
    "kode_sarana": null,
    "status_aktif": null,
    "status_sarana": null
   },
   "alamat": "Jl. Susumuk-Kumurkek Sonere Aifat Maybrat Papua Barat",
   "provinsi": {
    "kode": "96",
    "nama": "Papua Barat Daya",
    "kode_bps": null,
    "kode_lama": "96"
   },
   "kabkota": {
    "kode": "9605",
    "nama": "Kab. Maybrat",
    "kode_bps": "9110",
    "kode_lama": "9210"
   },
   "jenis_sarana": {
    "kode": "104",
    "nama": "Rumah Sakit",
    "nama_alt": "RS"
   },
   "subjenis": {
    "kode": "10401",
    "nama": "Rumah Sakit Umum",
    "nama_alt": "RSU"
   },
   "kelas_sarana": {
    "kode": "other",
    "nama": "Sarana Kesehatan Lainnya"
   },
   "status_sarana": "valid",
   "status_aktif": true
  }
 ]
}
"""  # noqa: E501


def _page(*records: dict[str, object], **envelope: object) -> bytes:
    body: dict[str, object] = {
        "status_code": 200,
        "message": "Success",
        "page": 1,
        "total_page": 1,
        "data": list(records),
    }
    body.update(envelope)
    return msgspec.json.encode(body)


def _one(**fields: object) -> Facility:
    page, _ = decode_page(_page({"kode_satusehat": "1000000001", **fields}))
    assert page.data is not None
    return page.data[0]


def test_seed_example_decodes_every_documented_field() -> None:
    page, repaired = decode_page(SEED_PAGE)
    assert repaired == 0
    assert (page.status_code, page.message, page.page, page.total_page) == (
        200,
        "Success",
        1,
        1849,
    )
    assert page.data is not None and len(page.data) == 4
    first, _, hospital, papua = page.data
    assert first.kode_satusehat == "1000156689"
    assert first.nama == "Klinik TelkoMedika Health Center 19 Bogor"
    assert first.telp == "082128617274_"  # junk kept verbatim: it is the registry's data
    assert first.latitude is None and first.longitude is None
    assert first.operasional is True and first.status_aktif is True
    assert first.provinsi == Wilayah(kode="32", nama="Jawa Barat", kode_bps="32", kode_lama="32")
    assert first.kabkota is not None and first.kabkota.kode == "3271"
    assert first.jenis_sarana is not None and first.jenis_sarana.kode == "103"
    assert first.subjenis is not None and first.subjenis.nama_alt is None
    assert first.sarana_administrasi is not None and first.sarana_administrasi.kode is None
    assert hospital.kelas_sarana is not None and hospital.kelas_sarana.kode == "nakes"
    assert papua.provinsi is not None and papua.provinsi.kode_bps is None
    assert papua.kabkota is not None and papua.kabkota.kode_lama == "9210"


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        ("-6.193125", "106.821810", (-6.193125, 106.82181)),
        (-6.5, 106.25, (-6.5, 106.25)),
        (-6, 106, (-6.0, 106.0)),
        (" -6.2 ", "106.8\t", (-6.2, 106.8)),
        ("-6,193125", "106,821810", (-6.193125, 106.82181)),  # comma decimals
        ("", "", (None, None)),
        ("-", "abc", (None, None)),
        ("NaN", "Infinity", (None, None)),
        (None, None, (None, None)),
        ("1e400", "5", (None, 5.0)),  # overflow -> inf -> None
        ("106.821810", "-6.193125", (-6.193125, 106.82181)),  # swapped, as one example is
        ("200", "300", (None, None)),  # out of range either way
        (True, False, (None, None)),
    ],
)
def test_coordinates_are_float_or_none_whatever_arrives(
    latitude: object, longitude: object, expected: tuple[float | None, float | None]
) -> None:
    facility = _one(latitude=latitude, longitude=longitude)
    assert (facility.latitude, facility.longitude) == expected
    for value in (facility.latitude, facility.longitude):
        assert value is None or type(value) is float


@pytest.mark.parametrize(
    ("wire", "expected"),
    [(32, "32"), ("32", "32"), (3271.0, "3271"), (32.5, "32.5"), (None, None), (True, None)],
)
def test_codes_stay_strings_when_numbers_arrive(wire: object, expected: str | None) -> None:
    facility = _one(
        kode_satusehat=1000000001 if wire is not None else None,
        provinsi={"kode": wire, "kode_bps": wire, "kode_lama": wire},
        jenis_sarana={"kode": wire},
        subjenis={"kode": wire},
        kelas_sarana={"kode": wire},
        sarana_administrasi={"kode": wire, "kode_sarana": wire},
    )
    if wire is not None:
        assert facility.kode_satusehat == "1000000001"
    assert facility.provinsi is not None
    assert facility.provinsi.kode == facility.provinsi.kode_bps == expected
    assert facility.provinsi.kode_lama == expected
    assert facility.jenis_sarana is not None and facility.jenis_sarana.kode == expected
    assert facility.subjenis is not None and facility.subjenis.kode == expected
    assert facility.kelas_sarana is not None and facility.kelas_sarana.kode == expected
    assert facility.sarana_administrasi is not None
    assert facility.sarana_administrasi.kode_sarana == expected


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        ("1", True),
        (0, False),
        ("ya", True),
        ("maybe", None),
        (7, None),
        (None, None),
    ],
)
def test_flags_are_bool_or_none(wire: object, expected: bool | None) -> None:
    facility = _one(operasional=wire, status_aktif=wire, sarana_administrasi={"status_aktif": wire})
    assert facility.operasional is expected
    assert facility.status_aktif is expected
    assert facility.sarana_administrasi is not None
    assert facility.sarana_administrasi.status_aktif is expected


def test_missing_and_null_fields_never_fail() -> None:
    page, _ = decode_page(b'{"data": [{}, {"provinsi": null, "kabkota": {}}]}')
    assert page.status_code is None and page.total_page is None
    assert page.data is not None
    assert page.data[0] == Facility()
    assert page.data[1].provinsi is None
    assert page.data[1].kabkota == Wilayah()


def test_unknown_fields_are_ignored() -> None:
    body = _page(
        {"kode_satusehat": "1000000001", "new_field": {"deep": [1, 2]}, "provinsi": {"x": 1}},
        extra_envelope="ignored",
    )
    page, repaired = decode_page(body)
    assert repaired == 0
    assert page.data is not None and page.data[0].kode_satusehat == "1000000001"


def test_null_data_is_an_empty_page() -> None:
    page, _ = decode_page(_page(data=None))
    assert page.data is None and page.facilities == []


def test_envelope_numbers_as_strings() -> None:
    page, _ = decode_page(_page(status_code="200", page="3", total_page="1849"))
    assert (page.status_code, page.page, page.total_page) == (200, 3, 1849)
    page, _ = decode_page(_page(total_page="lots"))
    assert page.total_page is None


def test_ill_fitting_record_is_repaired_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    body = _page(
        {"kode_satusehat": "1000000001", "nama": "fine"},
        {
            "kode_satusehat": "1000000002",
            "nama": 12345,  # a number where text belongs
            "telp": 628123456789,
            "provinsi": "32",  # text where an object belongs
            "kabkota": {"kode": "3271", "nama": ["junk"]},
            "jenis_sarana": [],
            "latitude": {"lat": 1},
            "longitude": "106.8",
        },
        None,  # not a facility at all
    )
    with caplog.at_level(logging.WARNING, logger="satusehat_async.msi"):
        page, repaired = decode_page(body)
    assert repaired == 2
    assert "repaired 1 record" in caplog.text
    assert page.data is not None and len(page.data) == 2
    fine, fixed = page.data
    assert fine.nama == "fine"
    assert fixed.kode_satusehat == "1000000002"
    assert fixed.nama == "12345" and fixed.telp == "628123456789"
    assert fixed.provinsi is None and fixed.jenis_sarana is None
    assert fixed.kabkota == Wilayah(kode="3271")
    assert fixed.latitude is None and fixed.longitude == 106.8


def test_repair_of_a_fitting_record_is_plain_conversion() -> None:
    assert repair(Wilayah, {"kode": 32}) == Wilayah(kode="32")


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"text"', b"{"])
def test_a_body_that_is_no_page_raises_api_error(body: bytes) -> None:
    with pytest.raises(APIError):
        decode_page(body, url="http://x/mastersarana")


def test_error_envelope_in_a_2xx_raises_the_mapped_error() -> None:
    body = b'{"status_code": 400, "message": "limit cannot be more than 2000", "data": null}'
    with pytest.raises(BadRequestError, match="limit cannot be more than 2000"):
        decode_page(body)


def test_structs_are_untracked_by_the_gc() -> None:
    import gc

    page, _ = decode_page(SEED_PAGE)
    assert page.data is not None
    assert not gc.is_tracked(page.data[0])
    assert not gc.is_tracked(page.data[0].provinsi)


def test_round_trip_encodes_normalised_values() -> None:
    facility = _one(latitude="-6,5", provinsi={"kode": 32})
    encoded = msgspec.json.decode(msgspec.json.encode(facility))
    assert encoded["latitude"] == -6.5
    assert encoded["provinsi"]["kode"] == "32"
    assert isinstance(FacilityPage(data=[facility]).facilities[0], Facility)

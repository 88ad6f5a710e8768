"""Fuzz: MSI pages, records, the pager, queries and checkpoints.

Any answer body decodes into a page (bad records repaired, as the models promise) or
raises an :class:`APIError`; the pager yields pages or raises a library error; any
query arguments build a :class:`FacilityQuery` or raise :class:`ValidationError`; any
damaged checkpoint either resumes safely or is refused, leaving the output untouched.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from fuzz_strategies import NASTY_STRINGS, hostile_bodies, json_values, mutated
from hypothesis import given
from hypothesis import strategies as st

from satusehat_async import RetryPolicy, SatuSehatClient
from satusehat_async.errors import APIError, SatuSehatError, ValidationError
from satusehat_async.http import BackendRequest
from satusehat_async.msi.checkpoint import ExportFile, ResumeRefused, checkpoint_path
from satusehat_async.msi.decode import decode_page, repair
from satusehat_async.msi.export import encoder_for, read_keys
from satusehat_async.msi.models import (
    Facility,
    FacilityPage,
    Wilayah,
    to_code,
    to_coordinate,
    to_count,
    to_flag,
)
from satusehat_async.msi.pager import FacilityPages
from satusehat_async.msi.query import (
    MAX_PAGE_SIZE,
    SOURCE_SYSTEMS,
    STATUS_SARANA,
    FacilityQuery,
    validate_page_size,
)
from satusehat_async.testing import MockBackend, Registry
from satusehat_async.transport import encode_params

_REGISTRY = Registry(12, seed=9)
RECORDS: list[dict[str, Any]] = list(_REGISTRY)


def _page(number: int, total: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "status_code": 200,
        "message": "Success",
        "page": number,
        "total_page": total,
        "data": rows,
    }


# Real pages of the local fake's generated registry, plus an error envelope.
PAGE_SEEDS: list[Any] = [
    _page(1, 3, RECORDS[0:4]),
    _page(2, 3, RECORDS[4:8]),
    _page(3, 3, RECORDS[8:12]),
    _page(1, 0, []),
    {"status_code": 400, "message": "limit must be <= 2000", "data": None},
]


def _check_facility(facility: Facility) -> None:
    """The types the models promise after decoding, whatever came on the wire."""
    assert isinstance(facility, Facility)
    for code in (facility.kode_satusehat, facility.kode_sarana, facility.nama):
        assert code is None or isinstance(code, str)
    for flag in (facility.operasional, facility.status_aktif):
        assert flag is None or isinstance(flag, bool)
    if facility.latitude is not None:
        assert isinstance(facility.latitude, float) and -90.0 <= facility.latitude <= 90.0
    if facility.longitude is not None:
        assert isinstance(facility.longitude, float) and -180.0 <= facility.longitude <= 180.0
    for region in (facility.provinsi, facility.kabkota):
        assert region is None or isinstance(region, Wilayah)
        if region is not None:
            assert region.kode is None or isinstance(region.kode, str)


def _check_page(page: FacilityPage) -> None:
    assert isinstance(page, FacilityPage)
    for number in (page.page, page.total_page, page.status_code):
        assert number is None or isinstance(number, int)
    for facility in page.facilities:
        _check_facility(facility)


# --- page decoding ----------------------------------------------------------------------


@given(body=hostile_bodies(PAGE_SEEDS))
def test_decode_page_repairs_or_raises_api_error(body: bytes) -> None:
    try:
        page, repaired = decode_page(body, url="https://x.test/msi")
    except APIError:
        return
    _check_page(page)
    assert repaired >= 0


@given(seed=st.sampled_from(PAGE_SEEDS[:3]))
def test_decode_page_accepts_real_pages_whole(seed: dict[str, Any]) -> None:
    page, repaired = decode_page(json.dumps(seed).encode())
    assert repaired == 0
    assert [f.kode_satusehat for f in page.facilities] == [
        r["kode_satusehat"] for r in seed["data"]
    ]
    _check_page(page)


record_values = st.dictionaries(
    st.sampled_from([f.encode_name for f in msgspec.structs.fields(Facility)] + ["extra"]),
    json_values(max_leaves=6),
    max_size=8,
)


@given(record=st.one_of(record_values, st.builds(dict, st.sampled_from(RECORDS))))
def test_repair_always_gives_a_facility(record: dict[str, Any]) -> None:
    facility = repair(Facility, record)
    assert isinstance(facility, Facility)


@given(value=json_values(max_leaves=4))
def test_normalisers_never_raise(value: Any) -> None:
    code = to_code(value)
    assert code is None or isinstance(code, str)
    flag = to_flag(value)
    assert flag is None or isinstance(flag, bool)
    coordinate = to_coordinate(value)
    assert coordinate is None or math.isfinite(coordinate)
    count = to_count(value)
    assert count is None or isinstance(count, int)


# --- the pager, over a scripted server (MockBackend) ------------------------------------


_BASE = "https://x.test"


class _ScriptedTransport:
    """A MockBackend handler: the drawn bodies for the first pages, then valid empty pages."""

    def __init__(self, bodies: list[bytes]) -> None:
        self.bodies = bodies

    def __call__(self, request: BackendRequest) -> tuple[int, dict[str, str], bytes]:
        if "/oauth2/" in request.url:
            return 200, {}, json.dumps({"access_token": "t", "expires_in": "3600"}).encode()
        number = int(request.query["page"])
        if number <= len(self.bodies):
            return 200, {}, self.bodies[number - 1]
        return 200, {}, json.dumps(_page(number, len(self.bodies), [])).encode()


_short_codes = st.one_of(
    st.none(),
    st.text(alphabet="0123456789", max_size=3),
    st.sampled_from(("", " ", "0", "01", "\u0661", "-1", "1.0", "\r")),
)


@st.composite
def _code_pages(draw: st.DrawFn) -> bytes:
    """Pages whose codes are short, empty, padded or odd (the dedupe's inputs)."""
    rows = [dict(r, kode_satusehat=draw(_short_codes)) for r in RECORDS[: draw(st.integers(0, 6))]]
    return json.dumps(_page(1, draw(st.integers(1, 3)), rows)).encode()


async def _crawl(bodies: list[bytes], seen: list[str]) -> list[str | None]:
    client = SatuSehatClient(
        "cid",
        "csecret",
        base_url=_BASE,
        backend=MockBackend(_ScriptedTransport(bodies)),
        retry=RetryPolicy(max_attempts=1),
        circuit_breaker=None,
    )
    pages = FacilityPages(
        client.context,
        _BASE + "/msi",
        FacilityQuery.build(),
        page_size=4,
        concurrency=2,
        start_page=1,
        seen=seen,
    )
    codes: list[str | None] = []
    async with pages:
        count = 0
        async for page in pages:
            _check_page(page)
            codes.extend(f.kode_satusehat for f in page.facilities)
            count += 1
            if count >= 12:  # a stale or absurd total_page: the bound is not tested here
                break
    return codes


_seen_codes = st.lists(st.one_of(_short_codes.filter(lambda c: c is not None), st.text(max_size=4)))


def _check_crawl(bodies: list[bytes], seen: list[str]) -> None:
    try:
        codes = asyncio.run(_crawl(bodies, seen))
    except SatuSehatError:
        return
    present = [c for c in codes if c is not None]
    assert len(present) == len(set(present)), "a facility was yielded twice"
    assert not set(present) & set(seen), "a facility already exported was yielded again"


@given(bodies=st.lists(hostile_bodies(PAGE_SEEDS), min_size=1, max_size=3), seen=_seen_codes)
def test_pager_yields_pages_or_raises_a_library_error(bodies: list[bytes], seen: list[str]) -> None:
    _check_crawl(bodies, seen)


@given(bodies=st.lists(_code_pages(), min_size=1, max_size=3), seen=_seen_codes)
def test_pager_dedupes_any_codes(bodies: list[bytes], seen: list[str]) -> None:
    # Empty, short, zero-padded and non-ASCII-digit codes (the dedupe keys them by value).
    _check_crawl(bodies, seen)


# --- query building -----------------------------------------------------------------------

_any_argument = st.one_of(
    json_values(max_leaves=3),
    st.sampled_from(NASTY_STRINGS),
    st.dates(),
    st.datetimes(),
    st.builds(object),
    st.floats(),
    st.sampled_from((b"32", 32.0, 10**30, -1, True, frozenset({101}))),
)
_QUERY_ARGUMENTS = (
    "jenis_sarana",
    "kode_provinsi",
    "kode_kabkota",
    "kode_kecamatan",
    "kode_satusehat",
    "kode_sarana",
    "nama",
    "status_aktif",
    "status_sarana",
    "sumber_identifier",
    "identifier_kode_sarana",
    "lower_bound_updated_at",
    "upper_bound_updated_at",
)


@given(arguments=st.dictionaries(st.sampled_from(_QUERY_ARGUMENTS), _any_argument, max_size=4))
def test_facility_query_build_accepts_or_raises_validation_error(
    arguments: dict[str, Any],
) -> None:
    try:
        query = FacilityQuery.build(**arguments)
    except ValidationError:
        return
    encode_params(query.params(page=1, page_size=100))
    assert len(query.fingerprint()) == 16


@st.composite
def _valid_query_arguments(draw: st.DrawFn) -> dict[str, Any]:
    digits = st.text(alphabet="0123456789", min_size=2, max_size=2)
    provinsi = str(draw(st.integers(11, 99)))
    kabkota = provinsi + draw(digits)
    arguments: dict[str, Any] = {
        "jenis_sarana": draw(
            st.one_of(st.integers(1, 10**6), st.lists(st.integers(101, 104), min_size=1))
        ),
        "kode_provinsi": draw(st.sampled_from((provinsi, int(provinsi)))),
        "kode_kabkota": kabkota,
        "kode_kecamatan": kabkota + draw(digits),
        "nama": draw(st.text(min_size=1).filter(str.strip)),
        "status_aktif": draw(st.booleans()),
        "status_sarana": draw(st.sampled_from(sorted(STATUS_SARANA))).upper(),
    }
    if draw(st.booleans()):
        arguments["sumber_identifier"] = draw(st.sampled_from(sorted(SOURCE_SYSTEMS)))
        arguments["identifier_kode_sarana"] = draw(st.text(min_size=1).filter(str.strip))
    low, high = sorted(draw(st.lists(st.dates(), min_size=2, max_size=2)))
    arguments["lower_bound_updated_at"] = low
    arguments["upper_bound_updated_at"] = high.isoformat()
    # Leave out any arguments, but the source pair only together.
    kept = {k: v for k, v in arguments.items() if draw(st.booleans())}
    if ("sumber_identifier" in kept) != ("identifier_kode_sarana" in kept):
        kept.pop("sumber_identifier", None)
        kept.pop("identifier_kode_sarana", None)
    return kept


@given(arguments=_valid_query_arguments())
def test_facility_query_build_accepts_valid_arguments(arguments: dict[str, Any]) -> None:
    query = FacilityQuery.build(**arguments)
    assert query == FacilityQuery.build(**arguments)  # deterministic
    assert query.fingerprint() == FacilityQuery.build(**arguments).fingerprint()
    params = dict(encode_params(query.params(page=1, page_size=MAX_PAGE_SIZE)))
    if "kode_kabkota" in arguments:
        assert params["kode_kabkota"] == arguments["kode_kabkota"]
    if "lower_bound_updated_at" in arguments:
        assert query.lower_bound_updated_at == arguments["lower_bound_updated_at"].isoformat()


@given(size=st.one_of(_any_argument, st.integers()))
def test_validate_page_size(size: Any) -> None:
    try:
        accepted = validate_page_size(size)
    except ValidationError:
        assert not (isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= 2000)
        return
    assert accepted == size and 1 <= accepted <= MAX_PAGE_SIZE


# --- checkpoints --------------------------------------------------------------------------

_FACILITIES = [msgspec.convert(r, Facility, strict=False) for r in RECORDS]


def _export(folder: Path, fmt: str) -> tuple[Path, dict[str, Any]]:
    """A finished-looking export of 3 pages of 4 facilities, interrupted before page 3."""
    path = folder / f"out.{fmt}"
    header, encode = encoder_for(fmt)
    export = ExportFile.open(
        path, fingerprint="f" * 16, fmt=fmt, page_size=4, header=header, resume=False, force=True
    )
    for number in (1, 2):
        rows = _FACILITIES[(number - 1) * 4 : number * 4]
        export.commit(encode(rows), next_page=number + 1, facilities=len(rows), total_page=3)
    export.close()
    marker = checkpoint_path(path)
    return path, json.loads(marker.read_bytes())


@st.composite
def _damaged(draw: st.DrawFn, checkpoint: dict[str, Any], path: Path) -> bytes:
    """The checkpoint with its numbers changed to plausible lies (inside a record, past the
    end, negative, huge), the kind of damage a hand edit or a mixed-up file makes."""
    size = path.stat().st_size
    lies = {
        "bytes": st.one_of(st.integers(-2, size + 2), st.sampled_from((2**63 - 1, -(2**63)))),
        "next_page": st.integers(-2, 10**6),
        "total_page": st.one_of(st.none(), st.integers(-1, 10**6)),
        "facilities": st.integers(-1, 10**6),
        "complete": st.booleans(),
    }
    changed = dict(checkpoint)
    for key in draw(st.lists(st.sampled_from(sorted(lies)), min_size=1, unique=True)):
        changed[key] = draw(lies[key])
    return json.dumps(changed).encode()


@given(fmt=st.sampled_from(("ndjson", "csv")), data=st.data())
def test_damaged_checkpoint_resumes_safely_or_is_refused(fmt: str, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path, checkpoint = _export(Path(folder), fmt)
        marker = checkpoint_path(path)
        damaged = data.draw(st.one_of(mutated([checkpoint]), _damaged(checkpoint, path)))
        marker.write_bytes(damaged)
        before = path.read_bytes()
        header, _ = encoder_for(fmt)
        try:
            export = ExportFile.open(
                path,
                fingerprint="f" * 16,
                fmt=fmt,
                page_size=4,
                header=header,
                resume=True,
                force=False,
            )
        except (ResumeRefused, SatuSehatError) as refused:
            assert "\n" not in str(refused), "the refusal is one line"
            assert path.read_bytes() == before, "a refused resume touched the output"
            return
        export.close()
        after = path.read_bytes()
        kept = export.checkpoint
        assert before.startswith(after), "resuming rewrote data instead of truncating"
        assert after == before[: kept.bytes]
        assert after.endswith(b"\n") or after == header, "the output ends inside a record"
        keys = list(read_keys(path, fmt))
        assert len(keys) == len(set(keys))
        # Resume must lose nothing: the kept output holds what the checkpoint counts.
        assert len(keys) == kept.facilities, "the checkpoint and the output disagree"
        assert kept.next_page >= 1
        if kept.total_page is not None:
            assert kept.next_page <= kept.total_page + 1, "next_page is past the end"


def test_intact_checkpoint_resumes() -> None:
    for fmt in ("ndjson", "csv"):
        with tempfile.TemporaryDirectory() as folder:
            path, _checkpoint = _export(Path(folder), fmt)
            header, _ = encoder_for(fmt)
            export = ExportFile.open(
                path,
                fingerprint="f" * 16,
                fmt=fmt,
                page_size=4,
                header=header,
                resume=True,
                force=False,
            )
            export.close()
            assert export.checkpoint.next_page == 3
            assert len(export.seen) == 8


@given(cut=st.integers(0, 10_000), fmt=st.sampled_from(("ndjson", "csv")))
def test_truncated_output_is_refused_untouched(cut: int, fmt: str) -> None:
    # An output cut short (a copy interrupted, a disk full) never loses more data.
    with tempfile.TemporaryDirectory() as folder:
        path, _checkpoint = _export(Path(folder), fmt)
        original = path.read_bytes()
        path.write_bytes(original[: cut % max(1, len(original))])
        before = path.read_bytes()
        header, _ = encoder_for(fmt)
        try:
            ExportFile.open(
                path,
                fingerprint="f" * 16,
                fmt=fmt,
                page_size=4,
                header=header,
                resume=True,
                force=False,
            ).close()
        except (ResumeRefused, SatuSehatError):
            assert path.read_bytes() == before

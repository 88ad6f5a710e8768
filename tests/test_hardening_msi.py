"""Issue 9, MSI: every defect found under hostile servers and by a new user, proven fixed.

CSV and a bare ``\\r``; damaged checkpoints; a crawl failing before its first page; a
registry that moves under offset paging; ``aclose()`` from another task; hostile data in
a page; wrong-typed arguments; flag names in CLI messages; the CLI without ``rich``.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import importlib
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from satusehat_async import SatuSehatClient
from satusehat_async.cli.main import main
from satusehat_async.errors import SatuSehatError, ValidationError
from satusehat_async.http import BackendRequest
from satusehat_async.msi import (
    CheckpointError,
    Facility,
    FacilityPages,
    FacilityQuery,
    FacilityStream,
    ResumeRefused,
)
from satusehat_async.msi.checkpoint import Checkpoint, ExportFile, checkpoint_path
from satusehat_async.msi.decode import decode_page
from satusehat_async.msi.export import CSV_COLUMNS, csv_header, encode_csv, read_keys
from satusehat_async.retry import RetryPolicy
from satusehat_async.testing import MockBackend, Sandbox, ThreadedSandbox

FACILITIES = 1200
BASE = "https://msi.test"
URL = BASE + "/masterdata/v1/mastersaranaindex/mastersarana"
cli_main = importlib.import_module("satusehat_async.cli.main")


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with ThreadedSandbox(facilities=FACILITIES, seed=23) as sandbox:
        yield sandbox


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, sb: Sandbox) -> Iterator[Sandbox]:
    """The command line pointed at the module's sandbox, fast retries, registry restored."""
    for name, value in sb.environ().items():
        monkeypatch.setenv(name, value)
    original = cli_main.client_from_args
    fast = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)
    monkeypatch.setattr(
        cli_main, "client_from_args", lambda args, **kw: original(args, retry=fast, **kw)
    )
    blobs = [sb.registry.raw(i) for i in range(len(sb.registry))]
    sb.faults.clear()
    sb.reset_stats()
    yield sb
    sb.registry.overreport_total_page = 0
    for index, blob in enumerate(blobs):
        sb.registry.put(index, blob)


def crawl(*args: str | Path) -> int:
    return main(["msi", "crawl", *map(str, args)])


def codes(sb: Sandbox) -> list[str]:
    return [r["kode_satusehat"] for r in sb.registry]


def ndjson_codes(path: Path) -> list[str]:
    return [json.loads(line)["kode_satusehat"] for line in path.read_text().splitlines()]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def failing_from(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, first_bad: int) -> None:
    """Every request for page ``first_bad`` and later fails (the network goes away)."""
    serve = sb.registry.page

    def page(query: Any) -> bytes:
        if query.page >= first_bad:
            raise RuntimeError("upstream gone")
        return serve(query)

    monkeypatch.setattr(sb.registry, "page", page)


def healed(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The network is back: pages are served again."""
    monkeypatch.setattr(sb.registry, "page", type(sb.registry).page.__get__(sb.registry))


# -- 1. CSV and a bare \r --------------------------------------------------------------


cell_text = st.text(
    st.characters(blacklist_categories=("Cs",)) | st.sampled_from("\r\n\x00\",;'"), max_size=12
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(cell_text, cell_text, cell_text), min_size=1, max_size=5))
def test_every_csv_cell_reads_back_as_written(cells: list[tuple[str, str, str]]) -> None:
    facilities = [
        Facility(kode_satusehat=str(1_000_000_000 + i), nama=n, alamat=a, email=e)
        for i, (n, a, e) in enumerate(cells)
    ]
    text = (csv_header() + encode_csv(facilities)).decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(facilities)
    for row, (n, a, e) in zip(rows, cells, strict=True):
        # NUL cannot pass Python 3.10's csv module at all: dropped from CSV (kept in NDJSON)
        assert (row["nama"], row["alamat"], row["email"]) == tuple(
            v.replace("\x00", "") for v in (n, a, e)
        )


def test_a_bare_carriage_return_never_makes_resume_skip_a_facility(
    cli: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    all_codes = codes(cli)
    victim = all_codes[700]  # on page 8 of 100
    record = cli.registry[3]
    record["nama"] = f"Klinik\r{victim}"  # a split row would start with the victim's code
    record["alamat"] = "Jl. Merdeka\r"
    cli.registry.put(3, record)
    out = tmp_path / "cr.csv"
    failing_from(cli, monkeypatch, 4)
    assert crawl("-o", out, "--format", "csv", "--page-size", "100", "--concurrency", "2") == 1
    healed(cli, monkeypatch)
    assert crawl("-o", out, "--format", "csv", "--page-size", "100", "--resume") == 0
    rows = csv_rows(out)
    assert [r["kode_satusehat"] for r in rows] == all_codes
    assert rows[3]["nama"] == f"Klinik\r{victim}" and rows[3]["alamat"] == "Jl. Merdeka\r"


# -- 2. a damaged checkpoint never destroys output --------------------------------------


def settle(sb: Sandbox, quiet: float = 0.3, limit: float = 10.0) -> None:
    """Wait until the sandbox has received nothing for ``quiet`` seconds.

    A crawl that stopped on an error cancels its other pages: a request already written to
    a socket may still reach the server (on its own thread) after the CLI returned, and
    must not be counted against what comes next.
    """
    deadline = time.monotonic() + limit
    last, since = sb.stats.requests, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if sb.stats.requests != last or sb.stats.in_flight:
            last, since = sb.stats.requests, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def interrupted_export(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, out: Path, fmt: str = "ndjson"
) -> dict[str, Any]:
    failing_from(sb, monkeypatch, 6)
    assert crawl("-o", out, "--format", fmt, "--page-size", "100") == 1
    healed(sb, monkeypatch)
    settle(sb)
    marker = checkpoint_path(out)
    checkpoint: dict[str, Any] = json.loads(marker.read_text())
    assert checkpoint["next_page"] == 6 and checkpoint["facilities"] == 500
    return checkpoint


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"bytes": 10}, "not the end of a record"),
        ({"facilities": 499}, "holds 500 records where 499"),
        ({"next_page": 999}, "past the end"),
        ({"facilities": 600}, "600 facilities cannot come from 5 pages of 100"),
        ({"bytes": None}, "holds 400 records where 500"),  # bytes: the end of the 400th row
        ({"next_page": 0}, "negative or zero"),
        (
            {"bytes": 0, "facilities": 0},
            "more records follow the checkpointed length, more than one page of 100",
        ),
    ],
)
def test_a_damaged_checkpoint_is_refused_and_nothing_is_touched(
    cli: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    edit: dict[str, Any],
    reason: str,
) -> None:
    out = tmp_path / "damaged.ndjson"
    checkpoint = interrupted_export(cli, monkeypatch, out)
    if "bytes" in edit and edit["bytes"] is None:
        edit["bytes"] = sum(len(line) for line in out.read_bytes().splitlines(True)[:400])
    checkpoint.update(edit)
    marker = checkpoint_path(out)
    marker.write_text(json.dumps(checkpoint))
    before, marker_before = digest(out), marker.read_text()
    capsys.readouterr()
    cli.reset_stats()
    assert crawl("-o", out, "--page-size", "100", "--resume") == 2
    lines = err_lines(capsys)
    assert len(lines) == 1 and reason in lines[0] and "--force" in lines[0], lines
    assert digest(out) == before and marker.read_text() == marker_before
    assert cli.stats.requests == 0


def test_a_next_page_past_the_registry_is_refused_after_one_request(
    cli: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "far.ndjson"
    checkpoint = interrupted_export(cli, monkeypatch, out)
    # A consistent-looking lie: 500 facilities from 999 pages is possible on paper.
    checkpoint.update(next_page=1000, total_page=1200)
    checkpoint_path(out).write_text(json.dumps(checkpoint))
    with out.open("ab") as f:
        f.write(b'{"kode_satusehat": "half a rec')  # a partial page after the checkpoint
    before = digest(out)
    capsys.readouterr()
    assert crawl("-o", out, "--page-size", "100", "--resume") == 2
    lines = err_lines(capsys)
    assert len(lines) == 1 and "registry has 12 pages" in lines[0], lines
    assert digest(out) == before
    assert json.loads(checkpoint_path(out).read_text())["complete"] is False


def open_export(out: Path, fmt: str = "csv", *, resume: bool = True) -> ExportFile:
    header = csv_header() if fmt == "csv" else b""
    return ExportFile.open(
        out, fingerprint="f", fmt=fmt, page_size=10, header=header, resume=resume, force=False
    )


def write_checkpoint(out: Path, fmt: str, **numbers: int) -> None:
    checkpoint = Checkpoint(fingerprint="f", format=fmt, page_size=10, **numbers)  # type: ignore[arg-type]
    checkpoint_path(out).write_bytes(msgspec.json.encode(checkpoint))


def test_a_csv_checkpoint_inside_a_quoted_newline_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "q.csv"
    body = csv_header() + encode_csv([Facility(kode_satusehat="1000000001", nama="two\nlines")])
    out.write_bytes(body)
    cut = body.index(b"two\n") + 4  # ends on a "\n", but inside the quoted field
    write_checkpoint(out, "csv", next_page=2, bytes=cut, facilities=1, total_page=1)
    with pytest.raises(CheckpointError, match="does not read back") as caught:
        open_export(out)
    assert isinstance(caught.value, ValidationError) and isinstance(caught.value, SatuSehatError)
    assert isinstance(caught.value, ResumeRefused)
    assert out.read_bytes() == body
    write_checkpoint(out, "csv", next_page=2, bytes=len(body), facilities=1, total_page=1)
    export = open_export(out)  # the whole record: accepted
    export.close()
    assert export.seen == {"1000000001"} and list(read_keys(out, "csv")) == ["1000000001"]


def test_a_csv_checkpoint_needs_this_versions_header(tmp_path: Path) -> None:
    out = tmp_path / "h.csv"
    out.write_bytes(b"kode_satusehat,nama\n1000000001,x\n")
    write_checkpoint(out, "csv", next_page=2, bytes=out.stat().st_size, facilities=1)
    with pytest.raises(CheckpointError, match="header"):
        open_export(out)


def test_a_checkpoint_with_wrong_types_is_a_checkpoint_error(tmp_path: Path) -> None:
    out = tmp_path / "t.ndjson"
    out.write_bytes(b'{"kode_satusehat":"1"}\n')
    checkpoint_path(out).write_text('{"fingerprint": "f", "format": "ndjson", "page_size": '
                                    '"ten", "next_page": 2, "bytes": 23}')  # fmt: skip
    with pytest.raises(CheckpointError, match="damaged"):
        open_export(out, "ndjson")


# -- 3. a crawl failing before its first page blocks nothing -----------------------------


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_a_crawl_failing_before_its_first_page_leaves_nothing_behind(
    cli: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    out = tmp_path / f"first.{fmt}"
    monkeypatch.setenv("SATUSEHAT_CLIENT_SECRET", "wrong")
    assert crawl("-o", out, "--format", fmt, "--page-size", "500") == 1
    assert not out.exists() and not checkpoint_path(out).exists()
    monkeypatch.setenv("SATUSEHAT_CLIENT_SECRET", cli.client_secret)
    capsys.readouterr()
    assert crawl("-o", out, "--format", fmt, "--page-size", "500") == 0  # the identical re-run
    got = [r["kode_satusehat"] for r in csv_rows(out)] if fmt == "csv" else ndjson_codes(out)
    assert got == codes(cli)


def test_force_keeps_the_old_output_until_the_first_page_arrives(
    cli: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "old.csv"
    out.write_text("precious\n")
    failing_from(cli, monkeypatch, 1)
    assert crawl("-o", out, "--format", "csv", "--force") == 1
    assert out.read_text() == "precious\n" and not checkpoint_path(out).exists()


def test_a_header_only_leftover_does_not_block_the_re_run(cli: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "left.csv"
    out.write_bytes(csv_header())  # what an earlier version left after failing at once
    cp = {"fingerprint": "x", "format": "csv", "page_size": 2000, "next_page": 1,
          "bytes": len(csv_header())}  # fmt: skip
    checkpoint_path(out).write_text(json.dumps(cp))
    assert crawl("-o", out, "--format", "csv", "--jenis-sarana", "104") == 0
    assert {r["jenis_sarana.kode"] for r in csv_rows(out)} == {"104"}


# -- 4. offset paging and a registry that moves -----------------------------------------


async def test_an_over_reported_total_page_stops_after_the_empty_pages() -> None:
    async with Sandbox(facilities=950, seed=4) as sb, sb.client() as client:
        sb.registry.overreport_total_page = 500
        await client.get_token()
        sb.reset_stats()
        pages = client.msi.pages(page_size=100, concurrency=3)
        got = [f.kode_satusehat async for p in pages for f in p.facilities]
        assert got == codes(sb)
        stats = pages.stats
        assert stats.stale_total_page and stats.empty_pages == 1 and stats.total_page == 510
        assert not stats.possibly_incomplete
        assert stats.pages == 11 and sb.stats.requests <= 11 + 2 * 3  # a window, not 500


async def test_empty_pages_past_full_ones_stop_after_two() -> None:
    async with Sandbox(facilities=1000, seed=4) as sb, sb.client() as client:
        sb.registry.overreport_total_page = 50
        pages = client.msi.pages(page_size=100, concurrency=2)
        numbers = [p.page async for p in pages]
        assert numbers == list(range(1, 13))  # 10 full pages, then two empty ones
        assert pages.stats.stale_total_page and pages.stats.empty_pages == 2


async def test_rows_deleted_mid_crawl_are_reported() -> None:
    async with Sandbox(facilities=1000, seed=5) as sb, sb.client() as client:
        before = codes(sb)
        sb.registry.remove_during_crawl(150, after_page=3)
        crawl = client.msi.facilities(page_size=100, concurrency=1)
        got = [f.kode_satusehat async for f in crawl]
        removed = set(sb.registry.removed_during_crawl)
        missed = [c for c in before if c not in removed and c not in got]
        assert len(missed) == 150  # what offset paging cannot avoid...
        assert crawl.stats.total_page_shrank and crawl.stats.possibly_incomplete  # ...but says


def test_the_cli_summary_says_when_the_registry_shrank_or_the_total_was_stale(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ThreadedSandbox(facilities=1000, seed=31) as sb:
        for name, value in sb.environ().items():
            monkeypatch.setenv(name, value)
        sb.registry.overreport_total_page = 7
        assert crawl("-o", tmp_path / "stale.ndjson", "--page-size", "100") == 0
        line = err_lines(capsys)[-1]
        assert "total_page 17 was over-reported" in line and "WARNING" not in line, line
        sb.registry.overreport_total_page = 0
        sb.registry.remove_during_crawl(250, after_page=2)
        assert crawl("-o", tmp_path / "shrunk.ndjson", "--page-size", "100") == 0
        line = err_lines(capsys)[-1]
        assert "WARNING: the registry shrank" in line and "may be missing" in line, line


Handler = Callable[[BackendRequest], Any]


def token_or_none(request: BackendRequest) -> tuple[int, dict[str, str], bytes] | None:
    """The token endpoint's answer, for the MockBackend handlers below."""
    if "/oauth2/" in request.url:
        return 200, {}, msgspec.json.encode({"access_token": "tok", "expires_in": "3600"})
    return None


def client_for(handler: Handler) -> SatuSehatClient:
    """A client over ``MockBackend(handler)``: one attempt per request, no breaker."""
    return SatuSehatClient(
        "cid",
        "csecret",
        base_url=BASE,
        backend=MockBackend(handler),
        retry=RetryPolicy(max_attempts=1),
        circuit_breaker=None,
    )


class PagesTransport:
    """A MockBackend handler serving scripted pages: ``sizes[page]`` rows each, ``total``
    as ``total_page``."""

    def __init__(self, sizes: dict[int, int], total: int | None) -> None:
        self.sizes, self.total = sizes, total
        self.requested: list[int] = []

    def __call__(self, request: BackendRequest) -> tuple[int, dict[str, str], bytes]:
        token = token_or_none(request)
        if token is not None:
            return token
        page = int(request.query["page"])
        self.requested.append(page)
        if page > 50:
            raise AssertionError("the crawl went on past the data for ever")
        data = [
            {"kode_satusehat": str(1_000_000_000 + page * 100 + i)}
            for i in range(self.sizes.get(page, 0))
        ]
        body: dict[str, Any] = {"status_code": 200, "page": page, "data": data}
        if self.total is not None:
            body["total_page"] = self.total
        return 200, {}, msgspec.json.encode(body)


def scripted(handler: Handler, concurrency: int = 1) -> FacilityPages:
    return FacilityPages(
        client_for(handler).context,
        URL,
        FacilityQuery.build(),
        page_size=10,
        concurrency=concurrency,
        start_page=1,
    )


async def test_a_short_page_before_the_end_is_reported() -> None:
    pages = scripted(PagesTransport({1: 10, 2: 7, 3: 10, 4: 4}, total=4))
    assert [len(p.facilities) async for p in pages] == [10, 7, 10, 4]
    assert pages.stats.short_pages == [2] and pages.stats.possibly_incomplete
    assert not pages.stats.stale_total_page


async def test_a_total_that_keeps_growing_cannot_crawl_for_ever() -> None:
    transport = PagesTransport({1: 10, 2: 10, 3: 3}, total=None)
    growing = {"n": 3}

    def send(request: BackendRequest) -> tuple[int, dict[str, str], bytes]:
        if token_or_none(request) is None:
            growing["n"] += 1
            transport.total = growing["n"]  # always one page more than asked for
        return transport(request)

    pages = scripted(send, concurrency=3)
    numbers = [p.page async for p in pages]
    assert numbers == [1, 2, 3, 4] and pages.stats.stale_total_page
    assert len(transport.requested) <= 4 + 2 * 3


async def test_no_total_page_and_an_empty_last_page_is_no_broken_promise() -> None:
    pages = scripted(PagesTransport({1: 10, 2: 10}, total=None))
    assert [p.page async for p in pages] == [1, 2, 3]
    assert pages.stats.empty_pages == 0 and not pages.stats.stale_total_page


# -- 5. aclose() from another task --------------------------------------------------------


class StallingTransport:
    """A MockBackend handler: answers page 1 at once; every later page waits until it is
    cancelled."""

    def __init__(self) -> None:
        self.stalled = asyncio.Event()

    async def __call__(self, request: BackendRequest) -> tuple[int, dict[str, str], bytes]:
        token = token_or_none(request)
        if token is not None:
            return token
        page = int(request.query["page"])
        if page > 1:
            self.stalled.set()
            await asyncio.Event().wait()
        data = [{"kode_satusehat": str(1_000_000_000 + page * 10 + i)} for i in range(10)]
        body = {"status_code": 200, "page": page, "total_page": 5, "data": data}
        return 200, {}, msgspec.json.encode(body)


@pytest.mark.parametrize("stream", [False, True])
async def test_aclose_from_another_task_ends_the_consumers_loop_cleanly(stream: bool) -> None:
    transport = StallingTransport()
    pages = FacilityPages(
        client_for(transport).context,
        URL,
        FacilityQuery.build(),
        page_size=10,
        concurrency=2,
        start_page=1,
    )
    crawl: FacilityPages | FacilityStream = FacilityStream(pages) if stream else pages
    seen: list[object] = []

    async def consume() -> str:
        async for item in crawl:
            seen.append(item)
        return "ended"

    consumer = asyncio.ensure_future(consume())
    await transport.stalled.wait()
    await asyncio.sleep(0)  # the consumer is now waiting for page 2
    await crawl.aclose()
    assert await asyncio.wait_for(consumer, 5) == "ended"
    assert len(seen) == (10 if stream else 1)
    assert {t for t in asyncio.all_tasks() if t is not asyncio.current_task()} == set()


# -- 6. hostile data in a page -------------------------------------------------------------


def page_body(*records: bytes, total: int = 1) -> bytes:
    return b'{"status_code":200,"page":1,"total_page":%d,"data":[%s]}' % (
        total,
        b",".join(records),
    )


def test_a_huge_integer_coordinate_repairs_the_record_not_loses_the_page() -> None:
    huge = b"1" + b"0" * 400
    body = page_body(
        b'{"kode_satusehat":"1000000001","latitude":' + huge + b',"longitude":106.8}',
        b'{"kode_satusehat":"1000000002","nama":"ok","latitude":-6.2}',
    )
    page, repaired = decode_page(body)
    assert [f.kode_satusehat for f in page.facilities] == ["1000000001", "1000000002"]
    assert page.facilities[0].latitude is None and page.facilities[0].longitude == 106.8
    assert page.facilities[1].latitude == -6.2 and repaired == 1


async def test_hostile_records_in_a_sandbox_page_are_repaired() -> None:
    async with Sandbox(facilities=6, seed=8) as sb, sb.client() as client:
        first = sb.registry[0]["kode_satusehat"]
        sb.registry.put(1, {**sb.registry[1], "kode_satusehat": ""})
        sb.registry.put(2, {**sb.registry[2], "kode_satusehat": "1" + "0" * 19})
        raw = sb.registry.raw(3).replace(b'"latitude":', b'"latitude":1' + b"0" * 400 + b',"x":')
        sb.registry.put(3, raw)
        crawl = client.msi.facilities(page_size=3)
        got = [f async for f in crawl]
        assert [f.kode_satusehat for f in got[:3]] == [first, "", "1" + "0" * 19]
        assert len(got) == 6 and got[3].latitude is None
        assert crawl.stats.repaired_records >= 1


# Values that broke decoders before: beyond int64, beyond float, empty, control characters.
EDGES = [
    10**400,
    -(10**400),
    2**64,
    -(2**63) - 1,
    1e308,
    -0.0,
    "",
    " ",
    "\r",
    "\x00",
    "nan",
    "1e999",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(EDGES),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = [f.encode_name for f in msgspec.structs.fields(Facility)]
_NESTED = ["kode", "nama", "kode_bps", "kode_lama", "nama_alt", "kode_sarana", "status_aktif"]
_NESTED_VALUES = st.fixed_dictionaries({}, optional=dict.fromkeys(_NESTED, json_values))
records = st.fixed_dictionaries(
    {}, optional=dict.fromkeys(_FIELDS, json_values | _NESTED_VALUES | st.sampled_from(EDGES))
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "status_code": json_values,
        "message": json_values,
        "page": json_values,
        "total_page": json_values,
        "data": st.lists(records | json_values, max_size=4) | json_values,
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes)
def test_any_json_in_any_field_decodes_leniently_or_is_a_library_error(
    envelope: dict[str, Any],
) -> None:
    body = msgspec.json.encode(envelope)
    try:
        page, _ = decode_page(body)
    except SatuSehatError:
        return
    for facility in page.facilities:
        assert isinstance(facility, Facility)
        for code in (facility.kode_satusehat, facility.nama, facility.kode_sarana):
            assert code is None or isinstance(code, str)
        assert facility.latitude is None or -90 <= facility.latitude <= 90
        assert facility.longitude is None or -180 <= facility.longitude <= 180
        assert facility.operasional in (None, True, False)
    csv.DictReader(io.StringIO((csv_header() + encode_csv(page.facilities)).decode()))


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"data":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"data":[{"nama":' + b"[" * 5000 + b"]" * 5000 + b"}]}",
    ],
)
def test_json_nested_thousands_deep_is_a_library_error(body: bytes) -> None:
    with pytest.raises(SatuSehatError, match="nested too deep"):
        decode_page(body)


# -- 7. wrong-typed arguments ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"jenis_sarana": object()},
        {"jenis_sarana": b"104"},
        {"jenis_sarana": 103.5},
        {"jenis_sarana": [104, None]},
        {"jenis_sarana": {"104": 1}},
        {"jenis_sarana": "1_04"},
        {"kode_provinsi": 3.2},
        {"nama": ["x"]},
        {"status_aktif": "yes"},
        {"lower_bound_updated_at": 20240101},
    ],
)
def test_wrong_typed_filters_are_validation_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FacilityQuery.build(**kwargs)


async def test_wrong_typed_crawl_arguments_send_nothing() -> None:
    async with Sandbox(facilities=10) as sb, sb.client() as client:
        await client.get_token()
        sb.reset_stats()
        bad: list[dict[str, Any]] = [
            {"jenis_sarana": object()},
            {"seen": 5},
            {"seen": "1000000001"},
            {"seen": [1000000001]},
            {"query": "jenis_sarana=104"},
            {"page_size": "100"},
            {"concurrency": 2.0},
        ]
        for kwargs in bad:
            with pytest.raises(ValidationError):
                client.msi.facilities(**kwargs)
        with pytest.raises(ValidationError):
            await client.msi.page(1, query="x")  # type: ignore[arg-type]
        assert sb.stats.requests == 0
        ok = client.msi.facilities(jenis_sarana=(c for c in ("104", 103)))  # any iterable
        assert ok.pages.query.jenis_sarana == (104, 103)


# -- 8. CLI messages name flags -------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--updated-from", "2024-13-01"], "--updated-from must be a date"),
        (["--updated-from", "2024-05-01", "--updated-to", "2024-01-01"],
         "--updated-from 2024-05-01 is after --updated-to 2024-01-01"),
        (["--kode-provinsi", "32", "--kode-kabkota", "3501"], "--kode-kabkota 3501 is not in "
                                                              "--kode-provinsi 32"),
        (["--jenis-sarana", "hospital"],
         "--jenis-sarana takes a facility type code or "
         "praktik-mandiri|puskesmas|klinik|rumah-sakit, got 'hospital'"),
        (["--status-sarana", "bogus"], "--status-sarana must be one of"),
        (["--nama", " "], "--nama must be a non-empty string"),
    ],
)  # fmt: skip
def test_cli_messages_name_the_flags(
    cli: Sandbox, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert crawl(*argv) == 2
    lines = err_lines(capsys)
    assert len(lines) == 1 and message in lines[0], lines
    assert "_bound_updated_at" not in lines[0] and "jenis_sarana" not in lines[0]
    assert cli.stats.requests == 0


def test_format_is_case_insensitive_and_listed_in_help(
    cli: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "upper.csv"
    assert crawl("--format", "CSV", "-o", out, "--jenis-sarana", "RUMAH-SAKIT") == 0
    assert tuple(csv_rows(out)[0]) == CSV_COLUMNS
    with pytest.raises(SystemExit):
        crawl("--help")
    assert "--format {ndjson,csv}" in capsys.readouterr().out


# -- 9. without rich --------------------------------------------------------------------------


def test_crawl_on_a_terminal_without_rich_prints_plain_progress(
    cli: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rich", None)  # import rich -> ImportError
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert crawl("--page-size", "200", "--jenis-sarana", "101", "--jenis-sarana", "102") == 0
    lines = err_lines(capsys)
    assert lines[0].startswith("msi crawl: page 1/") and "facilities" in lines[0]
    assert lines[-1].startswith("msi crawl: ") and "Traceback" not in "\n".join(lines)
    assert any("page" in line and "/" in line for line in lines[:-1])


def test_the_progress_helpers_fall_back_to_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from satusehat_async.cli.msi_cmd import (
        PlainProgress,
        advance_progress,
        crawl_progress,
    )
    from satusehat_async.msi import CrawlStats

    monkeypatch.setitem(sys.modules, "rich.progress", None)
    with crawl_progress(True) as progress:
        assert isinstance(progress, PlainProgress)
    ticks = iter([0.0, 0.5, 1.0, 5.0, 5.1])
    buffer = io.StringIO()
    plain = PlainProgress(buffer, interval=2.0, clock=lambda: next(ticks))
    stats = CrawlStats(total_page=4)
    task = None
    for page in range(1, 5):
        stats.pages, stats.facilities = page, page * 10
        task = advance_progress(plain, task, stats, 1)
    stats.pages = 4
    shown = buffer.getvalue().splitlines()
    assert [line.split(",")[0] for line in shown] == [
        "msi crawl: page 1/4",  # the first
        "msi crawl: page 4/4",  # the last (page 2 and 3 came within the interval)
    ]

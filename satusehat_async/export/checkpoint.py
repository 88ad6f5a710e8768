"""Crash-safe export files: whole pages only, and a checkpoint to resume from.

Each page is written, flushed and fsync'ed **before** the checkpoint beside the output
(``FILE.checkpoint.json``) is replaced atomically (``os.replace``) with the new byte
length and next page. Whatever the interruption, the checkpoint never claims bytes that
are not on disk. On resume the checkpoint is first checked against the file, which is
not touched unless it passes: the checkpointed length must end on a record boundary,
the records before it must read back (as many as the checkpoint counts) and the next
page must be within the crawl's range. The crawl then continues with the next page,
skipping the records already in the file, and the first page it writes replaces a
partly written page after the checkpointed length (:meth:`ExportFile.close` drops it
too; :meth:`ExportFile.abandon` leaves the file as it was).

A fresh export creates nothing until its first page arrives, so a crawl that fails
before that (bad credentials, server down) leaves no file behind (and ``force=True``
leaves the old one in place).

The checkpoint file (JSON): ``version`` (1), ``fingerprint`` (of the query and the row
columns), ``format``, ``page_size``, ``next_page``, ``part`` (the segment of a crawl made
of several, such as a KFA product type; absent for one), ``bytes`` (the length of the
output it vouches for), ``facilities`` (the records in those bytes: the name is the first
exporter's), ``total_page`` and ``complete``.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, ClassVar, TypeVar

import msgspec

from satusehat_async.errors import CheckpointError, ResumeRefused
from satusehat_async.export.formats import RecordLayout
from satusehat_async.export.scan import DamagedExport, count_records_after, scan_export

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "ExportFile",
    "ResumeRefused",
    "checkpoint_path",
    "validate_checkpoint",
]

CHECKPOINT_VERSION = 1
#: The largest page size a checkpoint may claim (the MSI's and KFA's limits are lower).
MAX_CHECKPOINT_PAGE = 100_000


class Checkpoint(msgspec.Struct, kw_only=True):
    """Progress of an export, stored beside it."""

    version: int = CHECKPOINT_VERSION
    fingerprint: str
    format: str
    page_size: int
    next_page: int
    bytes: int
    facilities: int = 0
    total_page: int | None = None
    complete: bool = False
    part: str | None = None


def checkpoint_path(output: Path) -> Path:
    """Where the checkpoint of ``output`` lives: ``output`` + ``.checkpoint.json``."""
    return output.with_name(output.name + ".checkpoint.json")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # not possible on every platform; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_numbers(checkpoint: Checkpoint, max_page_size: int, noun: str) -> str | None:
    """What is impossible in the checkpoint's own numbers, if anything."""
    cp = checkpoint
    if cp.next_page < 1 or cp.bytes < 0 or cp.facilities < 0:
        return "negative or zero counters"
    if not 1 <= cp.page_size <= max_page_size:
        return f"page size {cp.page_size} is out of range"
    if cp.part is not None:  # pages count within each part: the totals say nothing here
        return None
    if cp.total_page is not None and (cp.total_page < 0 or cp.next_page > cp.total_page + 1):
        return f"next page {cp.next_page} is past the end ({cp.total_page} pages)"
    if cp.facilities > (cp.next_page - 1) * cp.page_size:
        return f"{cp.facilities} {noun} cannot come from {cp.next_page - 1} pages of {cp.page_size}"
    return None


def _file_problem(
    checkpoint: Checkpoint, path: Path, layout: RecordLayout
) -> tuple[str | None, list[Hashable | None]]:
    """What does not match between the checkpoint and the file; the records' keys."""
    size = path.stat().st_size
    if size < checkpoint.bytes:
        return f"the file is shorter ({size} bytes) than checkpointed ({checkpoint.bytes})", []
    if checkpoint.format == "csv" and checkpoint.bytes == 0:
        return "a CSV checkpoint cannot end before the header", []
    try:
        keys = scan_export(path, checkpoint.format, checkpoint.bytes, layout)
        # After the checkpointed length there may be one page written but not yet
        # checkpointed (a crash in between), never more.
        limit = checkpoint.page_size
        after = count_records_after(path, checkpoint.format, checkpoint.bytes, limit=limit)
    except DamagedExport as exc:
        return str(exc), []
    if after > limit:
        return (
            f"{after if after <= limit + 1 else 'more'} records follow the checkpointed "
            f"length, more than one page of {limit}"
        ), keys
    if len(keys) != checkpoint.facilities:
        return (
            f"the file holds {len(keys)} records where {checkpoint.facilities} were checkpointed"
        ), keys
    return None, keys


def validate_checkpoint(
    checkpoint: Checkpoint,
    path: Path,
    layout: RecordLayout,
    *,
    max_page_size: int = MAX_CHECKPOINT_PAGE,
) -> list[Hashable | None]:
    """Check ``checkpoint`` against its output file; returns the keys of the records.

    Reads the file and changes nothing.

    Raises:
        CheckpointError: the numbers are impossible, the checkpointed length does not end
            on a record boundary, a record before it does not read back, or their count
            differs from the checkpoint's.
    """
    problem = _check_numbers(checkpoint, max_page_size, layout.noun)
    keys: list[Hashable | None] = []
    if problem is None:
        problem, keys = _file_problem(checkpoint, path, layout)
    if problem is not None:
        raise CheckpointError(
            f"{checkpoint_path(path).name} does not match {path.name}: {problem}; nothing "
            f"was touched (use force=True to start over)"
        )
    return keys


_E = TypeVar("_E", bound="ExportFile")


@dataclass
class ExportFile:
    """An export being written: the output stream and its checkpoint.

    Build it with :meth:`open`, which applies the overwrite and resume rules. The output
    is created (or, with ``force``, replaced) by the first :meth:`commit`.
    """

    path: Path
    stream: BinaryIO | None
    checkpoint: Checkpoint
    seen: set[Hashable] = field(default_factory=set)
    resumed: bool = False
    header: bytes = b""
    # A resumed file may hold a partial page after the checkpointed length until the
    # first commit (or close) drops it.
    _tail: bool = False

    #: How the records read back (their identities), given to or chosen by ``open``.
    layout: RecordLayout | None = field(default=None, repr=False)
    #: A subclass's layout when ``open`` gets none (the MSI's: facilities).
    default_layout: ClassVar[RecordLayout | None] = None
    #: The largest page size a checkpoint of this kind may claim.
    max_page_size: ClassVar[int] = MAX_CHECKPOINT_PAGE

    @classmethod
    def open(
        cls: type[_E],
        path: Path,
        *,
        fingerprint: str,
        fmt: str,
        page_size: int,
        header: bytes,
        resume: bool,
        force: bool,
        layout: RecordLayout | None = None,
    ) -> _E:
        """Open ``path`` for a fresh export or to resume one (reads, changes nothing).

        Raises:
            ResumeRefused: the output exists and neither ``resume`` nor ``force`` allows
                touching it, or it exists without a checkpoint, or its checkpoint belongs to
                another query, format or page size.
            CheckpointError: its checkpoint does not match the file (see
                :func:`validate_checkpoint`).
        """
        layout = layout or cls.default_layout
        if layout is None:
            raise TypeError("ExportFile.open() needs a layout")
        marker = checkpoint_path(path)
        exists = path.exists() and path.stat().st_size > 0
        if exists and resume:
            checkpoint = _load(marker, path)
            wanted = (fingerprint, fmt, page_size)
            found = (checkpoint.fingerprint, checkpoint.format, checkpoint.page_size)
            if wanted != found:
                raise ResumeRefused(
                    f"{marker} belongs to another crawl (query, format or page_size "
                    f"differ); resume with the same arguments, or use force=True to start over"
                )
            keys = validate_checkpoint(checkpoint, path, layout, max_page_size=cls.max_page_size)
            stream = path.open("r+b")  # truncated by the first commit, not before
            stream.seek(checkpoint.bytes)
            export = cls(path, stream, checkpoint, resumed=True, _tail=True, layout=layout)
            export.seen.update(key for key in keys if key is not None)
            return export
        if exists and not force and not _nothing_written(marker, path, header):
            raise ResumeRefused(
                f"{path} already exists; use resume=True to continue an interrupted crawl "
                f"or force=True to overwrite it"
            )
        checkpoint = Checkpoint(
            fingerprint=fingerprint, format=fmt, page_size=page_size, next_page=1, bytes=0
        )
        return cls(path, None, checkpoint, header=header, layout=layout)

    def commit(
        self,
        data: bytes,
        *,
        next_page: int,
        facilities: int,
        total_page: int | None,
        part: str | None = None,
    ) -> None:
        """Append one page's bytes durably, then move the checkpoint past it."""
        cp = self.checkpoint
        if self.stream is None:  # the first page of a fresh export: create the file now
            self.stream = self.path.open("wb")
            data = self.header + data
        self.stream.write(data)
        if self._tail:
            self.stream.truncate()  # drop what a crash left after the checkpointed length
            self._tail = False
        self.stream.flush()
        os.fsync(self.stream.fileno())
        cp.bytes += len(data)
        cp.next_page = next_page
        cp.part = part
        cp.facilities += facilities
        cp.total_page = total_page
        self._save()

    def finish(self) -> None:
        """Mark the export complete (a later resume has nothing left to do)."""
        cp = self.checkpoint
        # Creates a fresh file that got no page, or drops a partial page after the
        # checkpointed length of a resumed one that got none.
        self.commit(
            b"", next_page=cp.next_page, facilities=0, total_page=cp.total_page, part=cp.part
        )
        cp.complete = True
        self._save()

    def _save(self) -> None:
        marker = checkpoint_path(self.path)
        temporary = marker.with_name(marker.name + ".tmp")
        with temporary.open("wb") as out:
            out.write(msgspec.json.encode(self.checkpoint))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, marker)
        _fsync_dir(marker)

    def close(self) -> None:
        """Close the output, which then ends at its checkpointed length."""
        if self.stream is not None and not self.stream.closed:
            if self._tail:
                self.stream.truncate(self.checkpoint.bytes)
                self._tail = False
            self.stream.close()

    def abandon(self) -> None:
        """Close the output without changing a byte (a resume refused after opening)."""
        if self.stream is not None:
            self.stream.close()


def _load(marker: Path, path: Path) -> Checkpoint:
    try:
        raw = marker.read_bytes()
    except FileNotFoundError:
        raise ResumeRefused(
            f"{path} exists but has no checkpoint ({marker.name}), so where it stopped "
            f"is unknown; refusing to touch it (move it away, or use force=True to overwrite)"
        ) from None
    try:
        checkpoint = msgspec.json.decode(raw, type=Checkpoint)
    except (msgspec.MsgspecError, RecursionError):
        raise CheckpointError(f"{marker} is damaged; use force=True to start over") from None
    if checkpoint.version != CHECKPOINT_VERSION:
        raise CheckpointError(f"{marker} has unknown version {checkpoint.version}")
    return checkpoint


def _nothing_written(marker: Path, path: Path, header: bytes) -> bool:
    """Is ``path`` only the header an earlier version wrote before its first page?"""
    try:
        checkpoint = msgspec.json.decode(marker.read_bytes(), type=Checkpoint)
    except (OSError, msgspec.MsgspecError, RecursionError):
        return False
    if checkpoint.next_page != 1 or checkpoint.facilities != 0 or checkpoint.complete:
        return False
    return path.stat().st_size == len(header) and path.read_bytes() == header

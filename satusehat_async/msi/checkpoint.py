"""Crash-safe export files: whole pages only, and a checkpoint to resume from.

Each page is written, flushed and fsync'ed **before** the checkpoint beside the output
(``FILE.checkpoint.json``) is replaced atomically (``os.replace``) with the new byte
length and next page. Whatever the interruption, the checkpoint never claims bytes that
are not on disk; on resume the output is truncated to the checkpointed length (dropping
a partly written page) and the crawl continues with the next page, skipping the
facilities already in the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import msgspec

from satusehat_async.msi.export import read_keys

__all__ = ["Checkpoint", "ExportFile", "ResumeRefused", "checkpoint_path"]

CHECKPOINT_VERSION = 1


class ResumeRefused(Exception):
    """The output cannot be written or resumed safely; ``str()`` says why (one line)."""


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


@dataclass
class ExportFile:
    """An export being written: the output stream and its checkpoint.

    Build it with :meth:`open`, which applies the overwrite and resume rules.
    """

    path: Path
    stream: BinaryIO
    checkpoint: Checkpoint
    seen: set[str] = field(default_factory=set)
    resumed: bool = False

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        fingerprint: str,
        fmt: str,
        page_size: int,
        header: bytes,
        resume: bool,
        force: bool,
    ) -> ExportFile:
        """Open ``path`` for a fresh export or to resume one.

        Raises:
            ResumeRefused: the output exists and neither ``resume`` nor ``force`` allows
                touching it, or it exists without a checkpoint, or its checkpoint belongs to
                another query, format or page size, or it is shorter than checkpointed.
        """
        marker = checkpoint_path(path)
        exists = path.exists() and path.stat().st_size > 0
        if exists and resume:
            checkpoint = cls._load(marker, path)
            wanted = (fingerprint, fmt, page_size)
            found = (checkpoint.fingerprint, checkpoint.format, checkpoint.page_size)
            if wanted != found:
                raise ResumeRefused(
                    f"{marker} belongs to another crawl (query, --format or --page-size "
                    f"differ); resume with the same options, or use --force to start over"
                )
            size = path.stat().st_size
            if size < checkpoint.bytes:
                raise ResumeRefused(
                    f"{path} is shorter ({size} bytes) than its checkpoint says "
                    f"({checkpoint.bytes}); it was changed since: use --force to start over"
                )
            stream = path.open("r+b")
            stream.truncate(checkpoint.bytes)  # drop a partly written page
            stream.seek(checkpoint.bytes)
            export = cls(path, stream, checkpoint, resumed=True)
            export.seen.update(read_keys(path, fmt))
            return export
        if exists and not force:
            raise ResumeRefused(
                f"{path} already exists; use --resume to continue an interrupted crawl "
                f"or --force to overwrite it"
            )
        checkpoint = Checkpoint(
            fingerprint=fingerprint, format=fmt, page_size=page_size, next_page=1, bytes=0
        )
        export = cls(path, path.open("wb"), checkpoint)
        export.commit(header, next_page=1, facilities=0, total_page=None)
        return export

    @staticmethod
    def _load(marker: Path, path: Path) -> Checkpoint:
        try:
            raw = marker.read_bytes()
        except FileNotFoundError:
            raise ResumeRefused(
                f"{path} exists but has no checkpoint ({marker.name}), so where it stopped "
                f"is unknown; refusing to touch it (move it away, or use --force to overwrite)"
            ) from None
        try:
            checkpoint = msgspec.json.decode(raw, type=Checkpoint)
        except msgspec.MsgspecError:
            raise ResumeRefused(f"{marker} is damaged; use --force to start over") from None
        if checkpoint.version != CHECKPOINT_VERSION:
            raise ResumeRefused(f"{marker} has unknown version {checkpoint.version}")
        return checkpoint

    def commit(
        self, data: bytes, *, next_page: int, facilities: int, total_page: int | None
    ) -> None:
        """Append one page's bytes durably, then move the checkpoint past it."""
        if data:
            self.stream.write(data)
        self.stream.flush()
        os.fsync(self.stream.fileno())
        cp = self.checkpoint
        cp.bytes += len(data)
        cp.next_page = next_page
        cp.facilities += facilities
        cp.total_page = total_page
        self._save()

    def finish(self) -> None:
        """Mark the export complete (a later ``--resume`` has nothing left to do)."""
        self.checkpoint.complete = True
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
        """Close the output stream."""
        self.stream.close()

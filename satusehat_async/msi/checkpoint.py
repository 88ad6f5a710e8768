"""MSI export files: the generic crash-safe writer and checkpoint with the facility layout.

How the files are written, checked and resumed is told in
:mod:`satusehat_async.export.checkpoint`; here :class:`ExportFile` reads its records
back as facilities (keyed by ``kode_satusehat``) unless given another layout.
"""

from __future__ import annotations

from typing import ClassVar

from satusehat_async.errors import CheckpointError, ResumeRefused
from satusehat_async.export import checkpoint as _engine
from satusehat_async.export.checkpoint import Checkpoint, checkpoint_path, validate_checkpoint
from satusehat_async.export.formats import RecordLayout
from satusehat_async.msi.export import FACILITIES
from satusehat_async.msi.query import MAX_PAGE_SIZE

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "ExportFile",
    "ResumeRefused",
    "checkpoint_path",
    "validate_checkpoint",
]


class ExportFile(_engine.ExportFile):
    """An MSI export being written (see :class:`satusehat_async.export.ExportFile`)."""

    default_layout: ClassVar[RecordLayout | None] = FACILITIES
    max_page_size: ClassVar[int] = MAX_PAGE_SIZE

"""Resumable exports of any paged crawl to NDJSON or CSV files (or a stream).

:class:`Export` is the engine (checkpoint after every page, resume, overwrite rules);
:class:`RecordLayout` says what a row type's records look like and how their identities
are read back; :class:`ExportSource` is what a paged endpoint gives the engine. The
MSI's export is :meth:`client.msi.export <satusehat_async.msi.MSI.export>`.
"""

from __future__ import annotations

from satusehat_async.export.checkpoint import Checkpoint, ExportFile, checkpoint_path
from satusehat_async.export.formats import FORMATS, RecordLayout, check_format
from satusehat_async.export.job import Crawl, Export, ExportResult, ExportSource, Position
from satusehat_async.export.scan import DamagedExport, read_keys

__all__ = [
    "FORMATS",
    "Checkpoint",
    "Crawl",
    "DamagedExport",
    "Export",
    "ExportFile",
    "ExportResult",
    "ExportSource",
    "Position",
    "RecordLayout",
    "check_format",
    "checkpoint_path",
    "read_keys",
]

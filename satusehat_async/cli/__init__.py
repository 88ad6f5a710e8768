"""The ``satusehat`` command line (needs the ``cli`` extra for progress bars)."""

from satusehat_async.cli.main import main

__all__ = ["main"]

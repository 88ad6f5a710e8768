"""``python -m satusehat_async`` runs the command line."""

from satusehat_async.cli.main import run

run()

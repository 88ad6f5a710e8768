"""``python -m satusehat_async.cli``."""

from satusehat_async.cli.main import run

run()

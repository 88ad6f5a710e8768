"""A sandbox serving from a thread of its own, for synchronous code and command lines."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any

from satusehat_async.sandbox.server import LocalSandbox

__all__ = ["ThreadedSandbox"]


class ThreadedSandbox:
    """Run a :class:`LocalSandbox` on its own event loop in a daemon thread.

    For code that calls ``asyncio.run`` itself (a command line's ``main()``) or is not
    async at all::

        with ThreadedSandbox(facilities=3_000) as sb:
            os.environ.update(sb.environ())
            assert main(["msi", "crawl", "--jenis-sarana", "104"]) == 0

    Keyword arguments go to :class:`LocalSandbox`. Read ``sb.stats`` from the calling thread
    only while the sandbox is idle (between calls).
    """

    def __init__(self, **options: Any) -> None:
        self.sandbox = LocalSandbox(**options)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="satusehat-sandbox", daemon=True
        )

    def __enter__(self) -> LocalSandbox:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.sandbox.start(), self.loop).result(30)
        return self.sandbox

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self.sandbox.close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

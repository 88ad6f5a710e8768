"""Rate limit, built-in metrics and a request hook, against the embedded sandbox.

Run it: ``python examples/metrics_hooks.py``. It needs no credentials and no network:
it starts a local SATUSEHAT, crawls a few MSI pages at most 50 requests per second,
forwards every request to a hook (where a service would feed Prometheus, StatsD or
OpenTelemetry), and prints ``client.metrics.snapshot()``.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from satusehat_async.metrics import RequestEvent
from satusehat_async.testing import Sandbox


class SlowRequestCounter:
    """A hook: counts slow attempts per endpoint. Hooks get no bodies and no secrets."""

    def __init__(self, threshold: float = 0.05) -> None:
        self.threshold = threshold
        self.slow: Counter[str] = Counter()

    def __call__(self, event: RequestEvent) -> None:
        if event.duration > self.threshold:
            self.slow[event.endpoint] += 1


async def main(pages: int = 20) -> dict[str, object]:
    """Crawl ``pages`` pages of hospitals and return the metrics snapshot."""
    hook = SlowRequestCounter()
    async with (
        Sandbox(facilities=2_000, latency=0.01, fault_rate=0.2) as sandbox,
        sandbox.client(rate_limit=50.0, hooks=[hook]) as client,
    ):
        crawl = client.msi.pages(jenis_sarana=104, page_size=10, concurrency=4)
        async with crawl:
            async for page in crawl:
                if page.page is not None and page.page >= pages:
                    break
        snapshot = client.metrics.snapshot()
    snapshot["slow_attempts"] = dict(hook.slow)
    return snapshot


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), indent=2))

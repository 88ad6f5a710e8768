"""``satusehat sandbox``: serve the local sandbox (an embedded fake SATUSEHAT) until Ctrl-C.

Not to be confused with ``--env sandbox``, the remote Kemkes staging host.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import sys

__all__ = ["register"]

DEFAULT_PORT = 8080


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sandbox`` command."""
    parser = subparsers.add_parser(
        "sandbox",
        help="serve a local sandbox: an embedded fake SATUSEHAT on 127.0.0.1 (not the Kemkes "
        "staging host; no credentials, no network)",
        description="Serve a local sandbox -- an embedded fake SATUSEHAT (token, Master Sarana "
        "Index, Patient) running in this process, not the remote Kemkes staging host that "
        "--env sandbox talks to -- until Ctrl-C. Point a client at it with the printed "
        "SATUSEHAT_* variables (test values, not secrets).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port to listen on, 0-65535 ({DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--facilities", type=_count, default=10_000, help="facilities in the registry (10000)"
    )
    parser.add_argument("--seed", type=_whole, default=1, help="seed of the generated data (1)")
    parser.add_argument(
        "--latency-ms", type=_non_negative, default=0.0, help="milliseconds added per request"
    )
    parser.add_argument(
        "--fault-rate",
        type=_fraction,
        default=0.0,
        help="fraction of requests answered with a transient fault (0..1)",
    )
    parser.add_argument(
        "--token-ttl", type=_positive, default=3600.0, help="token lifetime in seconds (3600)"
    )
    parser.set_defaults(func=run)


# argparse says "invalid <function name> value" when a type raises ValueError: each
# parser raises ArgumentTypeError instead, so the message names the value, not our code.
def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _port(text: str) -> int:
    value = _whole(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535, got {value}")
    return value


def _count(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _non_negative(text: str) -> float:
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _fraction(text: str) -> float:
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C (or SIGTERM); exit 0 then, 1 when the port cannot be bound."""
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:  # Ctrl-C before our handler was installed
        return 0


async def _serve(args: argparse.Namespace) -> int:
    from satusehat_async.sandbox import LocalSandbox

    sandbox = LocalSandbox(
        facilities=args.facilities,
        seed=args.seed,
        latency=args.latency_ms / 1000.0,
        fault_rate=args.fault_rate,
        token_ttl=args.token_ttl,
        host=args.host,
        port=args.port,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(signum, stop.set)
    try:
        await sandbox.start()
    except OSError as error:
        hint = "; try another --port (0 picks a free one)" if args.port else ""
        print(
            f"satusehat: cannot listen on {args.host}:{args.port}: {error}{hint}", file=sys.stderr
        )
        return 1
    try:
        print(
            "Local SATUSEHAT sandbox (an embedded fake, not Kemkes staging): "
            f"{len(sandbox.registry):,} facilities at {sandbox.base_url}"
        )
        print("Point a client at it (test credentials, not secrets):")
        for name, value in sandbox.environ().items():
            print(f"  export {name}={value}")
        print("Press Ctrl-C to stop.", flush=True)
        await stop.wait()
        stats = sandbox.stats
        print(
            f"Stopped after {stats.requests:,} requests "
            f"({stats.token_requests:,} for tokens, {sum(stats.faults_injected.values()):,} "
            "faults).",
            flush=True,
        )
    finally:
        await sandbox.close()
    return 0

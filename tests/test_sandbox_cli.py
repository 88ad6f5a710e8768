"""``satusehat sandbox``: options, serving until Ctrl-C, exit codes."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys

import aiohttp
import pytest

from satusehat_async.cli import sandbox_cmd

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="satusehat")
    sandbox_cmd.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sandbox", *argv])


def test_options_and_defaults() -> None:
    args = parse()
    assert (args.host, args.port, args.facilities, args.seed) == ("127.0.0.1", 8080, 10_000, 1)
    assert (args.latency_ms, args.fault_rate, args.token_ttl) == (0.0, 0.0, 3600.0)
    assert args.func is sandbox_cmd.run
    args = parse("--port", "0", "--facilities", "50", "--latency-ms", "5", "--fault-rate", "0.1")
    assert (args.port, args.facilities, args.latency_ms, args.fault_rate) == (0, 50, 5.0, 0.1)


@pytest.mark.parametrize(
    "argv", [["--fault-rate", "2"], ["--latency-ms", "-1"], ["--token-ttl", "0"]]
)
def test_bad_options_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


async def start(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "satusehat_async",
        "sandbox",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_serves_until_ctrl_c_and_exits_0() -> None:
    process = await start("--port", "0", "--facilities", "50")
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert "Local SATUSEHAT sandbox (an embedded fake, not Kemkes staging)" in first
        assert "50 facilities at http://127.0.0.1:" in first
        base_url = first.rsplit(" ", 1)[-1].strip()
        lines = [(await process.stdout.readline()).decode() for _ in range(5)]
        assert any("SATUSEHAT_CLIENT_ID=sandbox" in line for line in lines)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                base_url + "/oauth2/v1/accesstoken",
                params={"grant_type": "client_credentials"},
                data={"client_id": "sandbox", "client_secret": "sandbox"},
            ) as resp,
        ):
            assert resp.status == 200
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    assert b"Traceback" not in err
    assert b"Stopped after 1 requests" in out


async def test_port_in_use_exits_1_with_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await start("--port", str(port), "--facilities", "10")
        _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err.decode()
    assert len(err.decode().splitlines()) == 1
    assert b"Traceback" not in err


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "http"])
async def test_a_port_out_of_range_is_a_usage_error(port: str) -> None:
    process = await start(f"--port={port}", "--facilities", "10")
    out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert b"Traceback" not in err
    (line,) = err.decode().splitlines()  # one line, no usage block
    assert line.startswith("satusehat sandbox: error: argument --port:")
    assert out == b""

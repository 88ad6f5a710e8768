"""What a new user meets on the command line (issue 9): each test failed before its fix.

Most run the real ``satusehat`` entry point (``run()``) in a subprocess, because what
is checked is what a terminal shows: the number of lines on stderr, the exit code, no
traceback — things an in-process call under pytest's log capture cannot see.
"""

from __future__ import annotations

import http.client
import http.server
import logging
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from satusehat_async import Environment
from satusehat_async.cli.main import build_parser, client_from_args, main, name_flags
from satusehat_async.sandbox import Sandbox, ThreadedSandbox

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and pty")

TESTS = Path(__file__).parent
NIK = "3273015708950042"
MOTHER = "9104025209000006"
# Runs the console-script entry point with the arguments after "-c CODE".
ENTRY = "import sys\nsys.argv[0] = 'satusehat'\nfrom satusehat_async.cli.main import run\nrun()\n"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with ThreadedSandbox(facilities=20, seed=3) as sandbox:
        yield sandbox


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without SATUSEHAT_* or proxy settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SATUSEHAT_") and "proxy" not in k.lower()
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def cli(
    *argv: str, env: dict[str, str], prelude: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", prelude + ENTRY, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def sandbox_env(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("SATUSEHAT_")]:
        monkeypatch.delenv(name)
    for name, value in sb.environ().items():
        monkeypatch.setenv(name, value)


def exit_code(argv: list[str]) -> int:
    """``main(argv)``, with argparse's SystemExit turned into its code."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


# -- 1. no rich -----------------------------------------------------------------------

DEMO = ("demo", "--latency-ms", "0", "--fault-rate", "0")
SLOW_PAGES = ("--page-size", "10", "--concurrency", "1", "--latency-ms", "100")
NO_RICH = "import sys\nsys.modules['rich'] = None  # as if the cli extra were not installed\n"


def test_demo_without_rich_on_a_terminal_prints_plain_progress() -> None:
    main_fd, terminal_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", NO_RICH + ENTRY, *DEMO, "--facilities", "300", "--page-size", "20"],
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal_fd,  # progress is drawn only on a terminal
    )
    os.close(terminal_fd)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    out, _ = process.communicate(timeout=120)
    reader.join(10)
    os.close(main_fd)
    terminal = b"".join(chunks).decode().replace("\r\n", "\n")
    assert "Traceback" not in terminal and "ModuleNotFoundError" not in terminal
    assert process.returncode == 0, terminal
    assert "satusehat-async[cli]" in terminal  # says which extra draws a bar
    assert "15/15 pages" in terminal
    assert "300 facilities (every one, each once)" in out.decode()


def test_help_without_rich() -> None:
    result = cli("--help", env=clean_env(), prelude=NO_RICH)
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout and "msi" in result.stdout


# -- 2. --proxy and --insecure ----------------------------------------------------------


class _ForwardProxy(http.server.BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: records each absolute-form request line, forwards it."""

    seen: list[str]

    def _forward(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        target = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
        path = target.path + (f"?{target.query}" if target.query else "")
        upstream.request(self.command, path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_PATCH = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_ForwardProxy,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("where", ["before", "after"])
def test_proxy_flag_sends_every_request_through_the_proxy(
    sb: Sandbox,
    sandbox_env: None,
    proxy: tuple[str, list[str]],
    where: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, seen = proxy
    argv = ["--proxy", url, "token"] if where == "before" else ["token", "--proxy", url]
    assert exit_code(argv) == 0, capsys.readouterr().err
    assert seen == [f"POST {sb.base_url}/oauth2/v1/accesstoken?grant_type=client_credentials"]


def test_insecure_flag_switches_tls_verification_off_and_says_so(
    sandbox_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    parser = build_parser()
    with caplog.at_level(logging.WARNING, logger="satusehat_async"):
        client_from_args(parser.parse_args(["token"]))
        assert "verification is OFF" not in caplog.text  # never the default
        client_from_args(parser.parse_args(["token", "--insecure"]))
    assert "TLS certificate verification is OFF" in caplog.text


# -- 4. a wrong secret: one line ----------------------------------------------------------


def test_wrong_secret_prints_one_line_and_exits_1(sb: Sandbox) -> None:
    env = clean_env(**{**sb.environ(), "SATUSEHAT_CLIENT_SECRET": "not-the-secret"})
    result = cli("token", env=env)
    assert result.returncode == 1
    assert len(lines(result.stderr)) == 1, result.stderr
    assert result.stderr.startswith("satusehat: AuthenticationError: HTTP 401")
    assert "next attempt" not in result.stderr
    assert "not-the-secret" not in result.stderr


def test_library_log_is_shown_with_verbose_after_the_subcommand(sb: Sandbox) -> None:
    env = clean_env(**{**sb.environ(), "SATUSEHAT_CLIENT_SECRET": "not-the-secret"})
    result = cli("token", "-v", env=env)
    assert result.returncode == 1
    assert "satusehat_async.auth" in result.stderr  # the library's own log line
    assert "not-the-secret" not in result.stderr


# -- 5. flags, not Python parameters; global options anywhere -----------------------------


def test_global_options_work_after_the_subcommand(
    sb: Sandbox, sandbox_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SATUSEHAT_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    assert exit_code(["token", "--base-url", sb.base_url]) == 0
    assert exit_code(["patient", "get", "P00000000001", "--env", "production"]) == 1
    args = build_parser().parse_args(
        ["msi", "crawl", "-v", "--env", "staging", "--proxy", "http://p:3128", "--fhir-url", "x"]
    )
    assert (args.verbose_after, args.env, args.proxy, args.fhir_url) == (
        1,
        "staging",
        "http://p:3128",
        "x",
    )
    args = build_parser().parse_args(["--env", "production", "--auth-url", "a", "token"])
    assert (args.env, args.auth_url) == ("production", "a")  # not reset by the subcommand


def test_unsupported_search_names_the_flags(
    sandbox_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["patient", "search", "--nik", NIK, "--nik-ibu", MOTHER]) == 2
    err = capsys.readouterr().err
    assert err.startswith("satusehat: error: unsupported search (--nik --nik-ibu); use one of:")
    assert "--name --birthdate --gender" in err
    assert "nik_ibu" not in err
    identifier = f"https://fhir.kemkes.go.id/id/nik|{NIK}"
    assert main(["patient", "search", "--identifier", identifier, "--nik", NIK]) == 2
    err = capsys.readouterr().err
    assert "--identifier" in err and "--nik-ibu" in err
    assert "nik_ibu" not in err and "identifier=" not in err


def test_a_refused_flag_value_is_named_as_the_flag(
    sandbox_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--base-url", "https://user:pw@example.org"]) == 1
    err = capsys.readouterr().err
    assert len(lines(err)) == 1 and "--base-url" in err
    assert "base_url" not in err and "pw" not in err


def test_library_messages_get_flag_names() -> None:
    flags = {"lower_bound_updated_at": "--updated-from", "nik_ibu": "--nik-ibu", "name": "--name"}
    assert (
        name_flags("lower_bound_updated_at must be a date, got 'x'", flags)
        == "--updated-from must be a date, got 'x'"
    )
    assert name_flags("name must be a non-empty string", flags) == (
        "name must be a non-empty string"  # prose is left alone
    )
    assert name_flags("see https://h/p?nik_ibu=1", flags) == "see https://h/p?nik_ibu=1"


# -- 6. Ctrl-C and SIGTERM -----------------------------------------------------------------


def signal_while_loading(signum: int) -> str:
    """A prelude that delivers ``signum`` while the subcommands are being imported."""
    return (
        "import os, signal, sys\n"
        "class Hook:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'satusehat_async.cli.patient_cmd':\n"
        "            sys.meta_path.remove(self)\n"
        f"            os.kill(os.getpid(), {int(signum)})\n"
        "        return None\n"
        "sys.meta_path.insert(0, Hook())\n"
    )


@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [
        (signal.SIGINT, 130, "satusehat: interrupted"),
        (signal.SIGTERM, 143, "satusehat: terminated"),
    ],
)
def test_a_signal_while_starting_up_is_one_line(signum: int, code: int, line: str) -> None:
    result = cli("--help", env=clean_env(), prelude=signal_while_loading(signum))
    assert result.returncode == code, result.stderr
    assert lines(result.stderr) == [line]


@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [
        (signal.SIGINT, 130, "satusehat: interrupted"),
        (signal.SIGTERM, 143, "satusehat: terminated"),
    ],
)
def test_a_signal_while_working_is_one_line(signum: int, code: int, line: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", ENTRY, "demo", "--facilities", "3000", *SLOW_PAGES],
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("local sandbox"), first
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            process.wait()
    assert process.returncode == code, err
    assert lines(err) == [line]


# -- 8. the local sandbox is not Kemkes staging --------------------------------------------


def test_help_tells_the_local_sandbox_from_kemkes_staging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert exit_code(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "local sandbox: an embedded fake SATUSEHAT on 127.0.0.1" in text
    assert "Kemkes staging host" in text
    assert exit_code(["sandbox", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "not the remote Kemkes staging host" in text


def test_local_sandbox_alias_and_staging_environment(
    sandbox_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from satusehat_async.testing import LocalSandbox

    assert LocalSandbox is Sandbox
    monkeypatch.delenv("SATUSEHAT_BASE_URL")
    client = client_from_args(build_parser().parse_args(["token", "--env", "staging"]))
    assert client.base_url == Environment.SANDBOX.base_url


# -- 9. captured answers live in the repository ----------------------------------------------


def test_captured_answers_are_in_the_repository_with_their_licence() -> None:
    captured = TESTS / "fixtures" / "captured"
    names = {path.name for path in captured.iterdir()}
    assert {"LICENSE-go-satusehat-sdk", "README.md", "patient_search_nik.json"} <= names
    assert "MIT License" in (captured / "LICENSE-go-satusehat-sdk").read_text()
    outside = re.compile(r"parents\[[2-9]\]|/work/shared|\.\./shared")
    for test_file in sorted(TESTS.glob("*.py")):
        if test_file.name != Path(__file__).name:
            assert not outside.search(test_file.read_text()), f"{test_file.name} reads outside"

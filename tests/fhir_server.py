"""A real third-party FHIR R4 server for tests: Medplum's FHIR engine, started on 127.0.0.1.

The server is ``@medplum/fhir-router`` (Apache-2.0, from the npm registry) over its in-memory
repository, run by Node.js through ``tests/fhir_server_medplum.cjs``, which only does the
HTTP framing (see that file). ``bash .ci/install-fhir-server`` installs it into
``.cache/fhir-server`` (``SATUSEHAT_FHIR_SERVER_DIR`` moves it); ``.ci/run`` calls it.

Use the fixtures by importing them into a test module::

    from fhir_server import fhir_server, fhir_base_url  # noqa: F401

``fhir_server`` (one per module) yields a :class:`FhirServerInfo`; ``fhir_base_url`` yields
its FHIR base URL, ``http://127.0.0.1:PORT/fhir-r4/v1``: the same path as SATUSEHAT's, so a
client built with ``base_url=fhir_server.origin`` finds it with no other setting. The server
has no authentication: send with ``authenticate=False``. It keeps its data in memory for its
lifetime, so tests keep apart by identifier systems of their own (:func:`unique_system`).

``fhir_server_oauth`` is the same server behind our test harness's OAuth2 (in the adapter,
not Medplum's): SATUSEHAT's client-credentials token endpoint at ``/oauth2/v1/accesstoken``
and a bearer token required on every FHIR route, so
``SatuSehatClient(info.client_id, info.client_secret, base_url=info.origin)`` works unchanged.

When the server is not installed, tests needing it are skipped, saying how to install it;
under CI (``CI=true``) they fail instead, so a CI run can never pass by skipping them.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVER_SCRIPT = Path(__file__).with_name("fhir_server_medplum.cjs")
INSTALL_COMMAND = "bash .ci/install-fhir-server"
BASE_PATH = "/fhir-r4/v1"
START_TIMEOUT = 60.0  # seconds; it loads the R4 definitions (~2-4 s here)


def server_dir() -> Path:
    """Where ``.ci/install-fhir-server`` put the server's node_modules."""
    configured = os.environ.get("SATUSEHAT_FHIR_SERVER_DIR")
    path = Path(configured) if configured else REPO / ".cache" / "fhir-server"
    return path if path.is_absolute() else REPO / path


def missing_reason() -> str | None:
    """Why the server cannot be started here, or None when it can."""
    if shutil.which("node") is None:
        return "node (Node.js >= 20.19) not on PATH; it runs the third-party FHIR server"
    marker = server_dir() / "node_modules" / "@medplum" / "fhir-router" / "package.json"
    if not marker.is_file():
        return (
            f"third-party FHIR server not installed in {server_dir()}: run `{INSTALL_COMMAND}` "
            "(Medplum's FHIR engine from the npm registry)"
        )
    return None


def require_fhir_server() -> None:
    """Skip (or, under CI, fail) the calling test when the server cannot be started."""
    reason = missing_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (.ci/run must install it before the tests)")
    pytest.skip(reason)


def unique_system(kind: str = "test") -> str:
    """An identifier system no other test uses, so searches see only this test's records."""
    return f"urn:satusehat-async-test:{kind}:{uuid.uuid4().hex}"


@dataclass(frozen=True)
class FhirServerInfo:
    """A running server: its origin (``http://127.0.0.1:PORT``) and FHIR base URL."""

    origin: str
    base_url: str
    software: str
    version: str
    client_id: str | None = None
    """Set when the server requires OAuth2 (``fhir_server_oauth``): the credentials it takes."""
    client_secret: str | None = field(default=None, repr=False)


class FhirServer:
    """The Node.js process serving FHIR on 127.0.0.1, on a port the OS picks."""

    def __init__(self, log_path: Path, credentials: tuple[str, str] | None = None) -> None:
        self.log_path = log_path
        self.credentials = credentials  # (client_id, client_secret): require OAuth2
        self.process: subprocess.Popen[bytes] | None = None
        self.info: FhirServerInfo | None = None

    def start(self) -> FhirServerInfo:
        """Start the server and wait until it listens; fail the test with its log if not."""
        node = shutil.which("node") or "node"
        command = [node, str(SERVER_SCRIPT), "--modules", str(server_dir())]
        command += ["--host", "127.0.0.1", "--port", "0", "--base-path", BASE_PATH]
        if self.credentials is not None:
            command += ["--client-id", self.credentials[0], "--client-secret", self.credentials[1]]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL
            )
        assert self.process.stdout is not None
        line = _read_line(self.process.stdout, START_TIMEOUT)
        if not line:
            self.stop()
            log_text = self.log_path.read_text(errors="replace")[-2000:]
            pytest.fail(f"the FHIR server did not start; its log ends:\n{log_text}")
        ready: dict[str, Any] = json.loads(line)
        origin = f"http://127.0.0.1:{ready['port']}"
        self.info = FhirServerInfo(
            origin=origin,
            base_url=origin + ready["basePath"],
            software=str(ready["software"]),
            version=str(ready["version"]),
            client_id=self.credentials[0] if self.credentials else None,
            client_secret=self.credentials[1] if self.credentials else None,
        )
        return self.info

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and close its pipe."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


def _read_line(stream: IO[bytes], timeout: float) -> str:
    """The first line the server prints (its ready line), or "" when none comes in time."""
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return ""
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:  # the process exited
                return ""
            buffer += chunk
    return buffer.split(b"\n", 1)[0].decode()


@pytest.fixture(scope="module")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServerInfo]:
    """A third-party FHIR R4 server for the module's tests (skipped when not installed)."""
    require_fhir_server()
    server = FhirServer(tmp_path_factory.mktemp("fhir-server") / "server.log")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fhir_server_oauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServerInfo]:
    """The server behind the harness's OAuth2: a token from ``/oauth2/v1/accesstoken`` for
    ``client_id``/``client_secret`` (random per module), a bearer token on every FHIR route."""
    require_fhir_server()
    credentials = (f"client-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex)
    log_path = tmp_path_factory.mktemp("fhir-server-oauth") / "server.log"
    server = FhirServer(log_path, credentials)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def fhir_base_url(fhir_server: FhirServerInfo) -> str:
    """The FHIR base URL of :func:`fhir_server`, e.g. ``http://127.0.0.1:PORT/fhir-r4/v1``."""
    return fhir_server.base_url

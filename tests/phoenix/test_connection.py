"""The client layer: settings as Phoenix reads them, retries, and one clear message per failure,
with faults injected by a small proxy in front of the real test server."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from annotator.phoenix import (
    AuthError,
    BadSettings,
    ServerError,
    Timeout,
    Unreachable,
    VersionTooOld,
    connect,
    pull,
)
from annotator.phoenix.connection import PhoenixClient, settings_from_env
from annotator.phoenix.local_server import LocalPhoenix, free_port
from annotator.store import Store
from tests.phoenix.helpers import REPO, PhoenixProject
from tests.phoenix.proxy import DROP, Delay, FaultProxy, Reply, Seen


def _spans_page(seen: Seen) -> bool:
    return seen.method == "GET" and "/spans?" in seen.path


def _empty_project(client: PhoenixClient) -> str:
    name = f"empty-{uuid.uuid4().hex[:8]}"
    client.px.projects.create(name=name)
    return name


@pytest.fixture
def proxy(phoenix_server: LocalPhoenix):
    with FaultProxy(phoenix_server.url) as running:
        yield running


def _through(proxy: FaultProxy, **options) -> PhoenixClient:
    options.setdefault("backoff", 0.01)
    return connect(proxy.url, **options)


# --- retries -------------------------------------------------------------------------------------


def test_503_back_pressure_is_retried_and_the_pull_completes(
    proxy: FaultProxy, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    proxy.times(2, Reply(503, b"ingestion queue full"), _spans_page)
    with _through(proxy) as client, Store.open(tmp_path / "a.db") as store:
        report = pull(store, client, shared_few.name)
    assert (report.spans_new, report.complete) == (shared_few.spans, True)
    assert proxy.count(_spans_page) == 3  # two 503s, then the page


def test_retry_after_is_honoured(proxy: FaultProxy, phoenix: PhoenixClient, tmp_path: Path) -> None:
    project = _empty_project(phoenix)
    proxy.times(1, Reply(503, b"busy", {"retry-after": "3"}), _spans_page)
    slept: list[float] = []
    settings = settings_from_env(proxy.url, backoff=0.01)
    with PhoenixClient(settings, sleep=slept.append) as client, Store.open(tmp_path / "a.db") as s:
        pull(s, client, project)
    assert slept == [3.0]


def test_persistent_5xx_gives_up_after_the_bounded_retries(
    proxy: FaultProxy, phoenix: PhoenixClient, tmp_path: Path
) -> None:
    project = _empty_project(phoenix)
    proxy.always(Reply(502, b"bad gateway"), _spans_page)
    with _through(proxy, retries=2) as client, Store.open(tmp_path / "a.db") as store:
        with pytest.raises(ServerError) as caught:
            pull(store, client, project)
    assert str(caught.value) == (
        f"reading spans of {project!r}: Phoenix at {proxy.url} answered HTTP 502 (3 attempts): "
        "bad gateway"
    )
    assert proxy.count(_spans_page) == 3


def test_a_dropped_connection_is_retried(
    proxy: FaultProxy, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    proxy.times(1, DROP, _spans_page)
    with _through(proxy) as client, Store.open(tmp_path / "a.db") as store:
        report = pull(store, client, shared_few.name)
    assert report.spans_new == shared_few.spans
    assert proxy.count(_spans_page) == 2


def test_a_server_that_goes_away_mid_pull_keeps_what_was_written(
    proxy: FaultProxy, shared_few: PhoenixProject, tmp_path: Path, monkeypatch
) -> None:
    from annotator.phoenix import pulling

    page = 8  # the project's 24 spans are three pages: the second one is dropped
    assert shared_few.spans > page
    monkeypatch.setattr(pulling, "SPAN_PAGE", page)
    pages = [0]

    def second_page_on(seen: Seen) -> object:
        if _spans_page(seen):
            pages[0] += 1
            return DROP if pages[0] > 1 else None
        return None

    proxy.rules.append(second_page_on)
    with _through(proxy, retries=1) as client, Store.open(tmp_path / "a.db") as store:
        with pytest.raises(Unreachable) as caught:
            pull(store, client, shared_few.name)
        assert str(caught.value).startswith(
            f"reading spans of {shared_few.name!r}: the connection to Phoenix at {proxy.url} "
            "was lost"
        )
        assert str(caught.value).endswith("what Phoenix confirmed is kept, run again to continue")
        assert store.counts()["spans"] == page
    proxy.rules.clear()
    with _through(proxy) as client, Store.open(tmp_path / "a.db") as store:
        report = pull(store, client, shared_few.name)
        assert (report.resumed, report.spans_new, report.spans_existing) == (
            True,
            shared_few.spans - page,
            0,
        )


def test_a_timeout_is_one_line(proxy: FaultProxy, phoenix: PhoenixClient, tmp_path: Path) -> None:
    project = _empty_project(phoenix)
    proxy.always(Delay(2.0), _spans_page)
    with _through(proxy, timeout=0.3, retries=1) as client, Store.open(tmp_path / "a.db") as s:
        with pytest.raises(Timeout) as caught:
            pull(s, client, project)
    assert str(caught.value) == (
        f"reading spans of {project!r}: Phoenix at {proxy.url} did not answer within 0.3s "
        "(2 attempts)"
    )


def test_nothing_listening_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with connect(url, retries=0) as client, Store.open(tmp_path / "a.db") as store:
        with pytest.raises(Unreachable) as caught:
            pull(store, client, "p")
    message = str(caught.value)
    assert message.startswith(f"looking up project 'p': cannot connect to Phoenix at {url} (")
    assert message.endswith(
        "is it running? (set --url, PHOENIX_BASE_URL or PHOENIX_COLLECTOR_ENDPOINT)"
    )


# --- refusals ------------------------------------------------------------------------------------


def test_401_without_a_key_says_to_set_one(proxy: FaultProxy, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PHOENIX_API_KEY", raising=False)
    monkeypatch.delenv("PHOENIX_CLIENT_HEADERS", raising=False)
    proxy.always(Reply(401, b"Unauthorized"), lambda seen: True)
    with _through(proxy) as client, Store.open(tmp_path / "a.db") as store:
        with pytest.raises(AuthError) as caught:
            pull(store, client, "p")
    assert str(caught.value) == (
        f"looking up project 'p': Phoenix at {proxy.url} answered 401 Unauthorized "
        "(it needs an API key: set PHOENIX_API_KEY)"
    )


def test_401_with_a_key_sends_it_as_a_bearer_token_and_never_shows_it(
    proxy: FaultProxy, tmp_path: Path, monkeypatch
) -> None:
    secret = "px-" + uuid.uuid4().hex
    monkeypatch.setenv("PHOENIX_API_KEY", secret)
    proxy.always(Reply(401, b"Invalid token " + secret.encode()), lambda seen: True)
    with _through(proxy) as client, Store.open(tmp_path / "a.db") as store:
        with pytest.raises(AuthError) as caught:
            pull(store, client, "p")
    assert str(caught.value) == (
        f"looking up project 'p': Phoenix at {proxy.url} answered 401 Unauthorized "
        "(the API key was not accepted: check PHOENIX_API_KEY)"
    )
    assert proxy.seen[0].headers["authorization"] == f"Bearer {secret}"


def test_403_says_the_key_lacks_permission(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.always(Reply(403, b"Forbidden"), lambda seen: True)
    with _through(proxy, api_key="viewer-key") as client, Store.open(tmp_path / "a.db") as s:
        with pytest.raises(AuthError) as caught:
            pull(s, client, "p")
    assert str(caught.value) == (
        f"looking up project 'p': Phoenix at {proxy.url} answered 403 Forbidden (the API key "
        "lacks the permission; a member or admin key is needed to write)"
    )


def test_a_phoenix_without_the_endpoint_names_its_version(
    proxy: FaultProxy, phoenix: PhoenixClient, tmp_path: Path
) -> None:
    project = _empty_project(phoenix)
    proxy.always(
        Reply(404, b'{"detail":"Not Found"}', {"content-type": "application/json"}),
        lambda seen: "/annotation_configs" in seen.path,
    )
    with _through(proxy) as client, Store.open(tmp_path / "a.db") as store:
        with pytest.raises(VersionTooOld) as caught:
            pull(store, client, project)
    assert str(caught.value) == (
        f"reading the annotation configs of {project!r}: Phoenix at {proxy.url} (version "
        f"20.26.1) has no GET /v1/projects/{project}/annotation_configs; annotator's Phoenix "
        "sync needs a Phoenix with that endpoint (tested with 20.26.1)"
    )


def test_hostile_server_text_is_shown_escaped(proxy: FaultProxy, tmp_path: Path) -> None:
    proxy.always(Reply(409, b"\x1b[2J\x1b]0;pwned\x07 gone\nwrong"), lambda seen: True)
    with _through(proxy) as client, Store.open(tmp_path / "a.db") as store:
        with pytest.raises(Exception) as caught:
            pull(store, client, "p")
    assert str(caught.value) == (
        f"looking up project 'p': Phoenix at {proxy.url} rejected it (HTTP 409): "
        "\\x1b[2J\\x1b]0;pwned\\x07 gone wrong"
    )


# --- settings ------------------------------------------------------------------------------------


def test_settings_follow_phoenix_environment_variables(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env.phoenix above
    for name in [k for k in os.environ if k.startswith(("PHOENIX_", "OTEL_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", "https://phoenix.example.com:6006/v1/traces")
    monkeypatch.setenv("PHOENIX_CLIENT_HEADERS", "x-team=qa,x-trace=on")
    monkeypatch.setenv("PHOENIX_API_KEY", "k-123")
    settings = settings_from_env()
    assert settings.base_url == "https://phoenix.example.com:6006"
    assert settings.headers == {
        "x-team": "qa",
        "x-trace": "on",
        "Authorization": "Bearer k-123",
    }
    assert "k-123" not in repr(settings)
    # explicit values win
    explicit = settings_from_env("http://127.0.0.1:1/", api_key="other")
    assert explicit.base_url == "http://127.0.0.1:1"
    assert explicit.headers["Authorization"] == "Bearer other"
    monkeypatch.delenv("PHOENIX_COLLECTOR_ENDPOINT")
    monkeypatch.setenv("PHOENIX_BASE_URL", "http://user:pw@phoenix.internal:7000")
    settings = settings_from_env()
    assert settings.display_url == "http://phoenix.internal:7000"


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(BadSettings) as caught:
        settings_from_env("ftp://phoenix")
    assert str(caught.value) == (
        "Phoenix URL 'ftp://phoenix' is not an http:// or https:// URL (--url, PHOENIX_BASE_URL "
        "or PHOENIX_COLLECTOR_ENDPOINT)"
    )


_WITHOUT_EXTRA = """
import sys
sys.modules["phoenix"] = None      # as if arize-phoenix-client were not installed
sys.modules["httpx"] = None
import annotator.phoenix
from annotator.phoenix import MissingExtra, connect
try:
    connect("http://127.0.0.1:1")
except MissingExtra as exc:
    print(exc)
"""


def test_the_core_imports_without_the_extra_and_says_what_to_install() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRA], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Phoenix sync needs the Phoenix client (httpx is not installed): "
        "pip install 'annotator[phoenix]'"
    ]


# --- the test server itself ----------------------------------------------------------------------


def _listening(pid: int) -> list[str]:
    """Local addresses of the TCP sockets `pid` listens on (from /proc, like `ss -ltnp`)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # LISTEN
                address, port = local.split(":")
                found.append(f"{_address(address, width)}:{int(port, 16)}")
    return sorted(found)


def _address(hex_address: str, width: int) -> str:
    raw = bytes.fromhex(hex_address)
    if width == 8:
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    joined = b"".join(words)
    if joined[:12] == b"\x00" * 10 + b"\xff\xff":
        return "::ffff:" + ".".join(str(b) for b in joined[12:])
    return joined.hex()


def test_every_listener_of_the_test_server_is_on_loopback(phoenix_server: LocalPhoenix) -> None:
    assert _listening(phoenix_server.pid) == sorted(
        [f"127.0.0.1:{phoenix_server.port}", f"::ffff:127.0.0.1:{phoenix_server.grpc_port}"]
    )

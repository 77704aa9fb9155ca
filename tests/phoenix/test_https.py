"""https to Phoenix, for real: a TLS-terminating proxy (certificate from a throwaway CA made by
trustme) in front of the test Phoenix. A CA trusted through SSL_CERT_FILE works for pull and
push; an untrusted certificate is one line saying what is wrong and what to do."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from annotator.model import Annotation
from annotator.phoenix import Unreachable, connect
from annotator.phoenix.connection import PhoenixClient
from annotator.store import Store
from tests.phoenix.helpers import PhoenixProject
from tests.phoenix.proxy import FaultProxy
from tests.phoenix.server import LocalPhoenix
from tests.phoenix.test_commands import run

if TYPE_CHECKING:  # imported by the fixture: collecting the suite need not load cryptography
    import trustme


@pytest.fixture
def authority() -> trustme.CA:
    import trustme

    return trustme.CA()


@pytest.fixture
def https(phoenix_server: LocalPhoenix, authority: trustme.CA) -> Iterator[FaultProxy]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    with FaultProxy(phoenix_server.url, tls=context) as proxy:
        yield proxy


def test_pull_and_push_over_https_with_a_private_ca(
    https: FaultProxy,
    authority: trustme.CA,
    phoenix: PhoenixClient,
    samples: PhoenixProject,
    tmp_path: Path,
) -> None:
    assert https.url.startswith("https://127.0.0.1:")
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    env = {"SSL_CERT_FILE": str(bundle)}
    db = tmp_path / "a.db"
    pulled = run("pull", "--url", https.url, "--project", samples.name, "--db", str(db), env=env)
    assert pulled.exit_code == 0, pulled.stderr
    assert pulled.stdout.startswith(f"Pulled {samples.spans} new spans")
    with Store.open(db) as store:
        span_id = store.connection.execute("SELECT span_id FROM spans LIMIT 1").fetchone()[0]
        store.set_annotation(Annotation(name="tls", span_id=span_id, label="ok", identifier="k"))
    pushed = run("push", "--url", https.url, "--db", str(db), env=env)
    assert pushed.exit_code == 0, pushed.stderr
    assert pushed.stdout.startswith(f"Sent 1 to span_annotations to {https.url}")
    assert https.count(lambda seen: seen.path.startswith("/v1/span_annotations")) == 1
    stored = phoenix.request(
        "GET",
        f"/v1/projects/{samples.name}/span_annotations",
        params={"span_ids": [span_id]},
        what="read back",
    )["data"]
    assert [(a["name"], a["result"]["label"]) for a in stored] == [("tls", "ok")]


def test_an_untrusted_certificate_is_one_line_saying_what_to_do(
    https: FaultProxy, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    result = run("pull", "--url", https.url, "--project", "any", "--db", str(db))
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == (
        f"looking up project 'any': the https certificate of Phoenix at {https.url} is not "
        "trusted (unable to get local issuer certificate): if it is signed by your own "
        "certificate authority, set SSL_CERT_FILE to its certificate (PEM)"
    )
    assert not db.exists()
    assert https.seen == []  # the handshake failed: no request was made


def test_https_to_a_plain_http_phoenix_says_to_check_the_scheme(
    phoenix_server: LocalPhoenix, tmp_path: Path
) -> None:
    url = phoenix_server.url.replace("http://", "https://")
    result = run("pull", "--url", url, "--project", "any", "--db", str(tmp_path / "a.db"))
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"looking up project 'any': the TLS handshake with Phoenix at {url} failed ("
    )
    assert line.endswith("); is the URL's scheme right (http or https)?")


def test_a_ca_file_that_cannot_be_read_is_one_line_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    result = run(
        "pull", "--url", "https://127.0.0.1:9", "--project", "p", "--db", str(tmp_path / "a.db"),
        env={"SSL_CERT_FILE": str(missing), "SSL_CERT_DIR": None},
    )  # fmt: skip
    assert (result.exit_code, result.stderr) == (
        2,
        f"SSL_CERT_FILE={str(missing)!r}: cannot load the CA certificates ([Errno 2] No such "
        "file or directory); point it at a PEM file of CA certificates, or unset it\n",
    )


def test_ca_certificates_are_loaded_for_https_only(monkeypatch) -> None:
    """Loading the CA bundle costs ~20 ms a client: an http:// Phoenix does not need it."""
    loads: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(args or kwargs)
        load(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    with connect("http://127.0.0.1:9"):
        assert loads == [], "an http:// client loaded CA certificates"
    with connect("https://127.0.0.1:9"):
        assert len(loads) == 1, "an https:// client did not load the CA certificates once"


def test_an_https_request_through_an_http_client_is_verified(
    https: FaultProxy,
    authority: trustme.CA,
    phoenix_server: LocalPhoenix,
    tmp_path: Path,
    monkeypatch,
) -> None:
    """A client made for an http:// Phoenix (no certificates loaded) never sends an https
    request unverified: an untrusted certificate fails, a trusted one (SSL_CERT_FILE) works."""
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    version = f"{https.url}/arize_phoenix_version"
    with connect(phoenix_server.url, retries=0) as client:
        with (
            pytest.raises(Unreachable, match=r"certificate of Phoenix at \S+ is not trusted"),
            client.errors("version over https"),
        ):
            client.http.get(version)
    assert https.seen == []  # the handshake failed: no request was made
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with connect(phoenix_server.url, retries=0) as client:
        response = client.http.get(version)
        assert (response.status_code, client.request_count) == (200, 1), response.text
    assert [seen.path for seen in https.seen] == ["/arize_phoenix_version"]

"""Issue 12's connection claims, end to end through the commands: ``PHOENIX_API_KEY`` and
``PHOENIX_CLIENT_HEADERS`` reach Phoenix on every request of `pull`, `push --dry-run` and `push`,
and the key is never in their output (progress, summaries, dry-run listing) nor in the database."""

from __future__ import annotations

import uuid
from pathlib import Path

from annotator.phoenix.local_server import LocalPhoenix
from annotator.store import Store
from tests.phoenix.helpers import PhoenixProject
from tests.phoenix.proxy import FaultProxy
from tests.phoenix.test_commands import run
from tests.phoenix.test_push import _annotate_here


def test_key_and_client_headers_are_sent_on_every_request_and_never_shown_or_stored(
    phoenix_server: LocalPhoenix, samples: PhoenixProject, tmp_path: Path
) -> None:
    secret = "px-secret-" + uuid.uuid4().hex
    env = {"PHOENIX_API_KEY": secret, "PHOENIX_CLIENT_HEADERS": "x-team=qa,x-run=r1"}
    db = tmp_path / "a.db"
    shown = ""
    with FaultProxy(phoenix_server.url) as proxy:
        pulled = run(
            "pull", "--url", proxy.url, "--project", samples.name, "--db", str(db), env=env
        )
        assert pulled.exit_code == 0, pulled.stderr
        with Store.open(db) as store:
            _annotate_here(store, uuid.uuid4().hex[:6])
        dry = run("push", "--url", proxy.url, "--dry-run", "--db", str(db), env=env)
        assert dry.exit_code == 0, dry.stderr
        pushed = run("push", "--url", proxy.url, "--db", str(db), env=env)
        assert pushed.exit_code == 0, pushed.stderr
        for result in (pulled, dry, pushed):
            shown += result.stdout + result.stderr
        assert len(proxy.seen) > 10
        sent = {
            (s.headers.get("authorization"), s.headers.get("x-team"), s.headers.get("x-run"))
            for s in proxy.seen
        }
    assert sent == {(f"Bearer {secret}", "qa", "r1")}
    assert "pull spans: " in pulled.stderr  # the progress lines were among what was checked
    assert secret not in shown
    assert secret[10:] not in shown
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("a.db"))
    assert secret.encode() not in stored and secret[10:].encode() not in stored

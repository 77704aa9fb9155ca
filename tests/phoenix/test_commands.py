"""`annotator pull` and `annotator push` as a user runs them, against the real test Phoenix:
their output, exit codes and one-line failures (faults injected by the proxy), the database
they leave, and what Phoenix holds afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from annotator.cli.main import cli
from annotator.importer import import_files
from annotator.model import Annotation
from annotator.phoenix.connection import PhoenixClient
from annotator.phoenix.local_server import LocalPhoenix, free_port
from annotator.store import Store
from tests.phoenix.helpers import REPO, PhoenixProject
from tests.phoenix.proxy import DROP, FaultProxy, Reply, Seen
from tests.phoenix.test_push import _annotate_here, _read


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    environment = {"PHOENIX_API_KEY": None, "PHOENIX_COLLECTOR_ENDPOINT": None, **(env or {})}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


@pytest.fixture(autouse=True)
def short_retries(monkeypatch) -> None:
    """The commands' real backoff (0.5 s doubling), shortened: faults are injected here."""
    from annotator.phoenix import connection

    monkeypatch.setattr(connection, "MAX_DELAY", 0.01)


@pytest.fixture
def proxy(phoenix_server: LocalPhoenix):
    with FaultProxy(phoenix_server.url) as running:
        yield running


def _posts(endpoint: str):
    return lambda seen: seen.method == "POST" and seen.path.startswith(f"/v1/{endpoint}")


def _pull(url: str, project: str, db: Path, *more: str) -> Result:
    return run("pull", "--url", url, "--project", project, "--db", str(db), *more)


# --- pull ----------------------------------------------------------------------------------------


def test_pull_command_pulls_prints_a_summary_and_plain_progress_off_a_terminal(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    samples = shared_few  # only read: the shared copy of the samples' covering traces
    spans = samples.spans
    db = tmp_path / "pulled.db"
    result = _pull(phoenix.url, samples.name, db)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        f"Pulled {spans} new spans, 0 configs and annotations (0 new, 0 updated, "
        f"0 unchanged) from project {samples.name!r} at {phoenix.url} in "
    )
    assert result.stdout.endswith("s; 0 conflicts, 0 problems.\n")
    progress = result.stderr.splitlines()
    assert progress[0] == f"pull spans: 0 of {spans} spans"
    assert progress[1] == f"pull spans: {spans} of {spans} spans"
    assert progress[-1].startswith("pull annotations: ") and progress[-1].endswith(" requests")
    with Store.open(db) as store:
        assert store.counts()["spans"] == spans
    again = _pull(phoenix.url, samples.name, db)
    assert again.exit_code == 0
    assert again.stdout.startswith("Pulled 0 new spans, 0 configs and annotations (0 new,")


def test_pull_reads_the_url_from_phoenix_environment_variables(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    result = run(
        "pull", "--project", shared_few.name, "--db", str(tmp_path / "a.db"),
        env={"PHOENIX_COLLECTOR_ENDPOINT": f"{phoenix.url}/v1/traces"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"at {phoenix.url} in" in result.stdout


def test_pull_limit_and_where_reach_the_pull(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    first = _pull(phoenix.url, shared_few.name, db, "--where", "span_kind == 'LLM'", "--limit", "1")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("Pulled 1 new spans")
    assert "(stopped at --limit: pull again to continue)" in first.stdout
    rest = _pull(phoenix.url, shared_few.name, db, "--where", "span_kind == 'LLM'")
    with Store.open(db) as store:
        kinds = store.connection.execute("SELECT DISTINCT span_kind FROM spans").fetchall()
        llm = store.counts()["spans"]
    assert kinds == [("LLM",)] and llm > 1
    assert rest.stdout.startswith(f"Pulled {llm - 1} new spans")


def test_pull_of_an_unknown_project_is_one_line_and_leaves_no_database(
    phoenix: PhoenixClient, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    result = _pull(phoenix.url, "no-such-project", db)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Phoenix at {phoenix.url} has no project named 'no-such-project' (--project)\n"
    )
    assert not db.exists()


def test_a_filter_phoenix_rejects_is_one_line(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    result = _pull(phoenix.url, shared_few.name, tmp_path / "a.db", "--where", "span_kind ==")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("--where 'span_kind ==': Phoenix rejected the filter: ")
    assert "Traceback" not in result.stderr


def test_pull_since_that_is_not_a_time_is_one_line(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    result = _pull(phoenix.url, shared_few.name, tmp_path / "a.db", "--since", "yesterday-ish")
    assert (result.exit_code, result.stderr) == (
        2,
        "--since 'yesterday-ish' is not a time (e.g. 2026-07-01 or 2026-07-01T12:00:00Z)\n",
    )


def test_nothing_listening_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = _pull(url, "p", tmp_path / "a.db")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"looking up project 'p': cannot connect to Phoenix at {url} ")
    assert result.stderr.count("\n") == 1


def test_pull_lists_conflicts_like_merge(
    phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    assert _pull(phoenix.url, samples.name, db).exit_code == 0
    with Store.open(db) as store:
        span_id = store.connection.execute("SELECT span_id FROM spans LIMIT 1").fetchone()[0]
    phoenix.request(
        "POST", "/v1/span_annotations", params={"sync": "true"}, what="annotate",
        json={"data": [{"span_id": span_id, "name": "verdict", "annotator_kind": "HUMAN",
                        "identifier": "ann", "result": {"label": "phoenix-side"}}]},
    )  # fmt: skip
    with Store.open(db) as store:  # made here afterwards: newer than Phoenix's
        store.set_annotation(
            Annotation(name="verdict", span_id=span_id, label="local-side", identifier="ann")
        )
    result = _pull(phoenix.url, samples.name, db)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].endswith("; 1 conflict, 0 problems.")
    assert lines[1] == "Conflicts (the newer local value is kept):"
    assert lines[2] == f"  span {span_id} · verdict · ann"
    assert lines[3].startswith("    local    ") and lines[3].endswith("label='local-side'  <- kept")
    assert lines[4].startswith("    phoenix  ") and lines[4].endswith("label='phoenix-side'")


# --- push ----------------------------------------------------------------------------------------


def _pulled_and_annotated(phoenix: PhoenixClient, samples: PhoenixProject, db: Path) -> dict:
    assert _pull(phoenix.url, samples.name, db).exit_code == 0
    with Store.open(db) as store:
        return {"salt": (salt := uuid.uuid4().hex[:6]), **_annotate_here(store, salt)}


def test_push_command_sends_then_sends_nothing_new(
    phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    made = _pulled_and_annotated(phoenix, samples, db)
    result = run("push", "--url", phoenix.url, "--project", samples.name, "--db", str(db))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "Sent 4 to span_annotations, 1 to document_annotations, 1 to trace_annotations, "
        "1 to session_annotations, 1 to span_notes, 1 to trace_notes, 1 to session_notes to "
        f"{phoenix.url} in "
    )
    assert result.stdout.endswith("(0 already sent); 6 config(s) created; 0 not sent.\n")
    assert result.stderr.splitlines()[-1] == "push annotations: 10 of 10 items"
    names = {r["name"] for r in _read(phoenix, samples.name, "span", [made["llm"]])}
    assert names == {f"{n}_{made['salt']}" for n in ("correctness", "quality", "comment")} | {
        "note"
    }
    again = run("push", "--url", phoenix.url, "--project", samples.name, "--db", str(db))
    assert again.exit_code == 0
    assert again.stdout.startswith(f"Sent nothing new to {phoenix.url} in ")
    assert "(10 already sent); 0 config(s) created; 0 not sent." in again.stdout


def test_push_dry_run_lists_every_item_and_sends_nothing(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    samples = shared_few  # a dry run writes nothing to Phoenix (checked): the shared copy
    db = tmp_path / "a.db"
    made = _pulled_and_annotated(phoenix, samples, db)
    result = run("push", "--url", phoenix.url, "--dry-run", "--name", "note", "--db", str(db))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Would send 1 to span_notes, 1 to trace_notes, 1 to session_notes to {phoenix.url} "
        "(0 already sent); 0 config(s) to create.",
        f"  span_notes: 'note' by alice on span {made['llm']} (annotation #8)",
        f"  trace_notes: 'note' by alice on trace {made['trace']} (annotation #9)",
        f"  session_notes: 'note' by alice on session {made['session']} (annotation #10)",
    ]
    assert _read(phoenix, samples.name, "span", [made["llm"]]) == []


def test_push_of_a_missing_database_is_one_line(tmp_path: Path) -> None:
    result = run("push", "--url", "http://127.0.0.1:9", "--db", str(tmp_path / "none.db"))
    assert (result.exit_code, result.stderr) == (
        2,
        f"{tmp_path / 'none.db'}: no such database (nothing to push; --db or ANNOTATOR_DB)\n",
    )
    assert not (tmp_path / "none.db").exists()


def test_push_503_back_pressure_is_retried(
    proxy: FaultProxy, phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    _pulled_and_annotated(phoenix, samples, db)
    proxy.times(3, Reply(503, b"ingestion queue full"), _posts("span_annotations"))
    result = run("push", "--url", proxy.url, "--project", samples.name, "--db", str(db))
    assert result.exit_code == 0, result.stderr
    assert proxy.count(_posts("span_annotations")) == 4
    assert result.stdout.startswith("Sent 4 to span_annotations,")


def test_push_persistent_503_is_one_line_and_what_was_confirmed_stays(
    proxy: FaultProxy, phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    _pulled_and_annotated(phoenix, samples, db)
    proxy.always(Reply(503, b"ingestion queue full"), _posts("trace_annotations"))
    result = run("push", "--url", proxy.url, "--project", samples.name, "--db", str(db))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"sending 1 item(s) to /v1/trace_annotations: Phoenix at {proxy.url} answered HTTP 503 "
        "(5 attempts): ingestion queue full"
    )
    with Store.open(db) as store:
        sent = store.connection.execute(
            "SELECT endpoint, count(*) FROM phoenix_sent GROUP BY endpoint ORDER BY endpoint"
        ).fetchall()
    assert sent == [("document_annotations", 1), ("span_annotations", 4)]
    proxy.rules.clear()
    rest = run("push", "--url", proxy.url, "--project", samples.name, "--db", str(db))
    assert rest.exit_code == 0
    assert rest.stdout.startswith(
        "Sent 1 to trace_annotations, 1 to session_annotations, 1 to span_notes, 1 to "
        "trace_notes, 1 to session_notes to "
    )
    assert "(5 already sent)" in rest.stdout


def test_push_422_on_one_record_names_it_sends_the_rest_and_exits_4(
    proxy: FaultProxy, phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    made = _pulled_and_annotated(phoenix, samples, db)
    bad = f"quality_{made['salt']}".encode()

    def reject(seen: Seen) -> object:
        if _posts("span_annotations")(seen) and bad in seen.body:
            body = {"detail": [{"loc": ["body", "data", 0, "result", "score"], "msg": "no"}]}
            return Reply(422, orjson.dumps(body), {"content-type": "application/json"})
        return None

    proxy.rules.append(reject)
    result = run("push", "--url", proxy.url, "--project", samples.name, "--db", str(db))
    assert result.exit_code == 4, result.stderr
    rejected = [line for line in result.stdout.splitlines() if line.startswith("Rejected: ")]
    assert rejected == [
        f"Rejected: 'quality_{made['salt']}' by alice on span {made['llm']} (annotation #3): "
        "Phoenix said: data.0.result.score: no"
    ]
    assert "3 to span_annotations" in result.stdout.splitlines()[0]
    assert "1 not sent." in result.stdout.splitlines()[0]


def test_push_with_the_connection_dropped_is_one_line_and_resumes(
    proxy: FaultProxy, phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    _pulled_and_annotated(phoenix, samples, db)
    proxy.always(DROP, _posts("session_annotations"))
    result = run("push", "--url", proxy.url, "--project", samples.name, "--db", str(db))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"sending 1 item(s) to /v1/session_annotations: the connection to Phoenix at "
        f"{proxy.url} was lost (Server disconnected without sending a response.); what Phoenix "
        "confirmed is kept, run again to continue"
    )
    proxy.rules.clear()
    rest = run("push", "--url", proxy.url, "--project", samples.name, "--db", str(db))
    assert rest.exit_code == 0
    assert "(6 already sent)" in rest.stdout


def test_push_401_says_the_key_was_refused_and_never_shows_it(
    proxy: FaultProxy, phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    # every request is refused before it reaches Phoenix: the shared copy of the samples
    _pulled_and_annotated(phoenix, shared_few, db)
    secret = "px-" + uuid.uuid4().hex
    proxy.always(Reply(401, b"Invalid token"), lambda seen: True)
    result = run(
        "push", "--url", proxy.url, "--db", str(db), env={"PHOENIX_API_KEY": secret}
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.endswith(
        f"Phoenix at {proxy.url} answered 401 Unauthorized (the API key was not accepted: "
        "check PHOENIX_API_KEY)\n"
    )
    assert result.stderr.count("\n") == 1
    assert secret not in result.stdout + result.stderr
    assert proxy.seen[0].headers["authorization"] == f"Bearer {secret}"


def test_push_spans_sends_traces_from_files_then_their_annotations(
    phoenix: PhoenixClient, tmp_path: Path
) -> None:
    from tests.phoenix.helpers import remapped_samples, span_count

    salt = uuid.uuid4().hex[:8]
    project = f"files-{salt}"
    # the covering traces of all three samples (every kind of span, documents, messages, errors)
    files = remapped_samples(tmp_path / "files", salt, project, few=True)
    spans = span_count(files)
    db = tmp_path / "a.db"
    with Store.open(db) as store:
        assert import_files(store, files).spans_new == spans
        span_id = store.connection.execute("SELECT span_id FROM spans LIMIT 1").fetchone()[0]
        store.set_annotation(Annotation(name="flag", span_id=span_id, label="x", identifier="q"))
    without = run("push", "--url", phoenix.url, "--db", str(db))
    assert without.exit_code == 4
    assert f"Not in Phoenix (1; send the traces first): {span_id}" in without.stdout
    result = run("push", "--url", phoenix.url, "--spans", "--db", str(db))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Sent {spans} spans Phoenix did not have (0 it had) in ")
    assert lines[1].startswith("Sent 1 to span_annotations to ")
    assert [r["result"]["label"] for r in _read(phoenix, project, "span", [span_id])] == ["x"]
    # Phoenix now holds what the files hold: pulled back, every span is the same
    with Store.open(tmp_path / "back.db") as back, Store.open(db) as here:
        pulled = run("pull", "--url", phoenix.url, "--project", project, "--db", str(back.path))
        assert pulled.exit_code == 0, pulled.stderr
        columns = (
            "span_id, trace_id, parent_id, name, span_kind, start_time, end_time, status_code, "
            "status_message, project, session_id, document_count, attributes, events"
        )
        query = f"SELECT {columns} FROM spans ORDER BY span_id"

        def rows(store: Store) -> list:
            return [
                (*r[:-2], orjson.loads(r[-2]), orjson.loads(r[-1]))
                for r in store.connection.execute(query)
            ]

        assert rows(back) == rows(here)
    again = run("push", "--url", phoenix.url, "--spans", "--db", str(db))
    assert again.stdout.startswith(f"Sent 0 spans Phoenix did not have ({spans} it had)")


def test_a_killed_push_command_resumes_with_the_rest(
    phoenix_server: LocalPhoenix, phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    """A real `annotator push` process, SIGKILLed while Phoenix handles its second batch: the
    first batch stays recorded as sent, and the next push sends exactly the rest."""
    db = tmp_path / "a.db"
    assert _pull(phoenix.url, samples.name, db).exit_code == 0
    names = [f"name{i}" for i in range(500 // samples.spans + 1)]  # over one batch of 500
    with Store.open(db) as store:
        span_ids = [r[0] for r in store.connection.execute("SELECT span_id FROM spans")]
        for span_id in span_ids:
            for name in names:
                store.set_annotation(
                    Annotation(name=name, span_id=span_id, label="x", identifier="k")
                )
    total = len(names) * samples.spans  # 504 (42 names x 12 spans): batches of 500 and 4
    process: list[subprocess.Popen] = []
    batches = [0]

    def kill_on_second_batch(seen: Seen) -> object:
        if _posts("span_annotations")(seen):
            batches[0] += 1
            if batches[0] == 2:
                os.kill(process[0].pid, signal.SIGKILL)
                return DROP
        return None

    with FaultProxy(phoenix_server.url) as proxy:
        proxy.rules.append(kill_on_second_batch)
        process.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.phoenix.cli", "push", "--url", proxy.url,
                 "--db", str(db)],
                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env={k: v for k, v in os.environ.items() if not k.startswith("PHOENIX_")},
            )
        )  # fmt: skip
        process[0].communicate(timeout=300)
        assert process[0].returncode == -signal.SIGKILL
        with Store.open(db) as store:
            sent = store.connection.execute("SELECT count(*) FROM phoenix_sent").fetchone()[0]
        assert sent == 500
        proxy.rules.clear()
        result = run("push", "--url", proxy.url, "--db", str(db))
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(f"Sent {total - 500} to span_annotations to ")
        assert "(500 already sent)" in result.stdout
        assert proxy.count(_posts("span_annotations")) == 3
    stored = _read(phoenix, samples.name, "span", span_ids)
    assert len(stored) == total


# --- dataset --push ------------------------------------------------------------------------------


def test_dataset_push_uploads_the_examples_the_jsonl_holds(
    phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    made = _pulled_and_annotated(phoenix, samples, db)
    name = f"bad-{made['salt']}"
    label = f"correctness_{made['salt']}=incorrect"
    out = tmp_path / "bad.jsonl"
    result = run(
        "dataset", "--db", str(db), "--label", label, "--annotator", "alice",
        "--out", str(out), "--push", name, "--url", phoenix.url,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"Wrote 1 example (jsonl) to {out}."
    last = result.stdout.splitlines()[-1]
    assert last.startswith(f"Created Phoenix dataset {name!r} (1 example, id ")
    assert last.endswith(f") at {phoenix.url}.")
    expected = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    dataset = phoenix.px.datasets.get_dataset(dataset=name)
    got = [
        {"input": e["input"], "output": e["output"], "metadata": e["metadata"]}
        for e in dataset.examples
    ]
    assert got == [{k: e[k] for k in ("input", "output", "metadata")} for e in expected]
    again = run(
        "dataset", "--db", str(db), "--label", label, "--push", name, "--url", phoenix.url
    )  # fmt: skip
    assert (again.exit_code, again.stderr) == (
        2,
        f"Phoenix at {phoenix.url} already has a dataset named {name!r}: choose another name "
        "(adding to it would duplicate the examples already there)\n",
    )

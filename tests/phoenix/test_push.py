"""`push` against a real Phoenix: annotations made here, sent, read back through Phoenix's REST
and GraphQL APIs field by field; pushing again sends nothing; faults injected by a proxy."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from annotator.config import parse_config
from annotator.importer import import_files
from annotator.model import Annotation
from annotator.phoenix import Unreachable, connect, pull
from annotator.phoenix.connection import PhoenixClient
from annotator.phoenix.pushing import push
from annotator.store import Store
from tests.phoenix.helpers import PhoenixProject
from tests.phoenix.proxy import DROP, FaultProxy, Reply, Seen

# Valid here, but not as Phoenix takes it: lower-case types, bare-string values, no direction.
CONFIGS = """
annotations:
  - name: correctness_{salt}
    type: categorical
    values: [correct, incorrect]
  - name: quality_{salt}
    type: continuous
    lower_bound: 0
    upper_bound: 10
  - name: comment_{salt}
    type: freeform
  - name: relevance_{salt}
    type: categorical
    target: document
    values: [relevant, irrelevant]
  - name: task_{salt}
    type: categorical
    target: trace
    values: [{{label: success, score: 1}}, {{label: failure, score: 0}}]
  - name: mood_{salt}
    type: categorical
    target: session
    values: [happy, unhappy]
"""


def _pulled(phoenix: PhoenixClient, samples: PhoenixProject, path: Path) -> Store:
    store = Store.open(path)
    assert pull(store, phoenix, samples.name).spans_new == samples.spans
    return store


def _annotate_here(store: Store, salt: str) -> dict[str, Any]:
    configs = parse_config(CONFIGS.format(salt=salt), "configs.yaml")
    store.save_config_document(configs.to_document())
    conn = store.connection
    llm = conn.execute(
        "SELECT span_id FROM spans WHERE span_kind = 'LLM' ORDER BY span_id"
    ).fetchone()[0]
    retriever = conn.execute(
        "SELECT span_id FROM spans WHERE document_count >= 2 ORDER BY span_id"
    ).fetchone()[0]
    trace, session = conn.execute(
        "SELECT trace_id, session_id FROM traces WHERE session_id IS NOT NULL ORDER BY trace_id"
    ).fetchone()
    made = [
        Annotation(name=f"correctness_{salt}", span_id=llm, label="incorrect", score=None,
                   explanation="wrong refund window", identifier="alice",
                   metadata={"seconds_spent": 4.2}),
        Annotation(name=f"correctness_{salt}", span_id=llm, label="correct", identifier="bob"),
        Annotation(name=f"quality_{salt}", span_id=llm, score=7.0, identifier="alice"),
        Annotation(name=f"comment_{salt}", span_id=llm, explanation="\x1b[31m[b]x[/b]\nok",
                   identifier="alice"),
        Annotation(name=f"relevance_{salt}", target="document", span_id=retriever,
                   document_position=1, label="irrelevant", identifier="alice"),
        Annotation(name=f"task_{salt}", target="trace", trace_id=trace, label="success",
                   score=1.0, identifier="alice"),
        Annotation(name=f"mood_{salt}", target="session", session_id=session, label="happy",
                   identifier="alice"),
        Annotation(name="note", span_id=llm, explanation="check the wording", identifier="alice"),
        Annotation(name="note", target="trace", trace_id=trace, explanation="long trace",
                   identifier="alice"),
        Annotation(name="note", target="session", session_id=session, explanation="a session",
                   identifier="alice"),
    ]  # fmt: skip
    for annotation in made:
        store.set_annotation(annotation)
    return {"llm": llm, "retriever": retriever, "trace": trace, "session": session}


def _read(client: PhoenixClient, project: str, target: str, ids: list[str]) -> list[dict]:
    page = client.request(
        "GET",
        f"/v1/projects/{project}/{target}_annotations",
        params={f"{target}_ids": ids, "limit": 1000},
        what="read back",
    )
    return page["data"]


def _comparable(record: dict) -> tuple:
    result = record.get("result") or {}
    return (
        record["name"],
        record["annotator_kind"],
        record["identifier"],
        result.get("label"),
        result.get("score"),
        result.get("explanation"),
        record["metadata"],
    )


def test_push_sends_every_target_notes_and_configs_then_only_changes_never_what_was_pulled(
    phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    """One scenario, one project (these were three tests that each repeated its start): a push
    sends every target, notes and configs and Phoenix reads them back; pushing again sends
    nothing and a change sends one; what a pull into another database brought is not pushed
    back."""
    salt = uuid.uuid4().hex[:6]
    store = _pulled(phoenix, samples, tmp_path / "a.db")
    ids = _annotate_here(store, salt)
    report = push(store, phoenix, project=samples.name)
    assert report.sent == {
        "span_annotations": 4, "document_annotations": 1, "trace_annotations": 1,
        "session_annotations": 1, "span_notes": 1, "trace_notes": 1, "session_notes": 1,
    }  # fmt: skip
    assert (report.rejected, report.not_in_phoenix, report.skipped) == ([], [], {})
    spans = sorted(_comparable(r) for r in _read(phoenix, samples.name, "span", [ids["llm"]]))
    assert spans == sorted([
        (f"correctness_{salt}", "HUMAN", "alice", "incorrect", None, "wrong refund window",
         {"seconds_spent": 4.2}),
        (f"correctness_{salt}", "HUMAN", "bob", "correct", None, None, {}),
        (f"quality_{salt}", "HUMAN", "alice", None, 7.0, None, {}),
        (f"comment_{salt}", "HUMAN", "alice", None, None, "\x1b[31m[b]x[/b]\nok", {}),
        ("note", "HUMAN", "alice", None, None, "check the wording", {}),
    ])  # fmt: skip
    traces = [_comparable(r) for r in _read(phoenix, samples.name, "trace", [ids["trace"]])]
    assert sorted(traces) == sorted([
        (f"task_{salt}", "HUMAN", "alice", "success", 1.0, None, {}),
        ("note", "HUMAN", "alice", None, None, "long trace", {}),
    ])  # fmt: skip
    sessions = [_comparable(r) for r in _read(phoenix, samples.name, "session", [ids["session"]])]
    assert sorted(sessions) == sorted([
        (f"mood_{salt}", "HUMAN", "alice", "happy", None, None, {}),
        ("note", "HUMAN", "alice", None, None, "a session", {}),
    ])  # fmt: skip
    data = phoenix.graphql(
        "query ($s: String!) { getSpanByOtelId(spanId: $s) { documentEvaluations { name "
        "annotatorKind label score explanation metadata documentPosition identifier } } }",
        {"s": ids["retriever"]},
        what="read documents",
    )
    assert data["getSpanByOtelId"]["documentEvaluations"] == [
        {
            "name": f"relevance_{salt}", "annotatorKind": "HUMAN", "label": "irrelevant",
            "score": None, "explanation": None, "metadata": {"annotator_identifier": "alice"},
            "documentPosition": 1, "identifier": "",
        }
    ]  # fmt: skip
    # configs: created as Phoenix takes them, attached to the project
    attached = phoenix.request(
        "GET", f"/v1/projects/{samples.name}/annotation_configs", what="configs"
    )["data"]
    bodies = {c["name"]: {k: v for k, v in c.items() if k != "id"} for c in attached}
    assert sorted(report.configs_created) == sorted(bodies)
    assert bodies[f"correctness_{salt}"] == {
        "name": f"correctness_{salt}", "type": "CATEGORICAL", "description": None,
        "optimization_direction": "NONE",
        "values": [{"label": "correct", "score": None}, {"label": "incorrect", "score": None}],
    }  # fmt: skip
    assert bodies[f"quality_{salt}"] == {
        "name": f"quality_{salt}", "type": "CONTINUOUS", "description": None,
        "optimization_direction": "NONE", "lower_bound": 0.0, "upper_bound": 10.0,
    }  # fmt: skip
    assert bodies[f"comment_{salt}"]["type"] == "FREEFORM"
    assert bodies[f"task_{salt}"]["values"] == [
        {"label": "success", "score": 1.0},
        {"label": "failure", "score": 0.0},
    ]
    # the ids Phoenix returned are kept with what was sent
    rows = store.connection.execute(
        "SELECT endpoint, phoenix_id FROM phoenix_sent ORDER BY annotation_id"
    ).fetchall()
    assert len(rows) == 10 and all(phoenix_id for _, phoenix_id in rows)
    assert report.total_sent == 10
    # pushing again sends nothing, a change sends one
    again = push(store, phoenix, project=samples.name)
    assert (again.sent, again.unchanged, again.configs_created) == ({}, 10, []), "pushing again"
    store.set_annotation(
        Annotation(name=f"quality_{salt}", span_id=ids["llm"], score=9.0, identifier="alice")
    )
    changed = push(store, phoenix, project=samples.name)
    assert (changed.sent, changed.unchanged) == ({"span_annotations": 1}, 9), "a change"
    scores = [
        r["result"]["score"]
        for r in _read(phoenix, samples.name, "span", [ids["llm"]])
        if r["name"] == f"quality_{salt}"
    ]
    assert scores == [9.0], "a change: Phoenix's upsert, the same annotation updated"
    store.close()
    # what a pull brought is not pushed back
    with Store.open(tmp_path / "b.db") as second:
        pulled = pull(second, phoenix, samples.name)
        assert pulled.annotations_new == 10, "the pull into another database"
        back = push(second, phoenix, project=samples.name)
        assert (back.sent, back.unchanged) == ({}, 10), "what a pull brought is not pushed back"


def test_dry_run_sends_nothing(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    samples = shared_few  # a dry run writes nothing to Phoenix (checked): the shared copy
    salt = uuid.uuid4().hex[:6]
    store = _pulled(phoenix, samples, tmp_path / "a.db")
    ids = _annotate_here(store, salt)
    report = push(store, phoenix, project=samples.name, dry_run=True)
    assert len(report.would_send) == 10 and report.sent == {}
    assert sorted(report.configs_created) == sorted(
        f"{n}_{salt}" for n in ("correctness", "quality", "comment", "relevance", "task", "mood")
    )
    assert report.summary().startswith(
        "Would send 4 to span_annotations, 1 to document_annotations, 1 to trace_annotations, "
        "1 to session_annotations, 1 to span_notes, 1 to trace_notes, 1 to session_notes to "
    )
    assert _read(phoenix, samples.name, "span", [ids["llm"]]) == []
    store.close()


def test_annotations_on_spans_phoenix_does_not_have_are_listed_and_the_rest_sent(
    phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    from tests.phoenix.helpers import SAMPLES

    store = _pulled(phoenix, samples, tmp_path / "a.db")
    # the original samples: other ids, never sent to Phoenix
    import_files(store, SAMPLES)
    local_only = store.connection.execute(
        "SELECT span_id FROM spans WHERE project != ? ORDER BY span_id LIMIT 2", (samples.name,)
    ).fetchall()
    in_phoenix = store.connection.execute(
        "SELECT span_id FROM spans WHERE project = ? ORDER BY span_id LIMIT 3", (samples.name,)
    ).fetchall()
    for (span_id,) in [*local_only, *in_phoenix]:
        store.set_annotation(Annotation(name="flag", span_id=span_id, label="x", identifier="q"))
    report = push(store, phoenix)
    assert report.sent == {"span_annotations": 3}
    assert sorted(report.not_in_phoenix) == sorted(r[0] for r in local_only)
    assert "Not in Phoenix (2; send the traces first): " in report.summary()
    # what Phoenix refused is not marked as sent: the next push tries them again
    again = push(store, phoenix)
    assert (again.sent, again.unchanged, len(again.not_in_phoenix)) == ({}, 3, 2)
    store.close()


def _posts(endpoint: str) -> Any:
    return lambda seen: seen.method == "POST" and seen.path.startswith(f"/v1/{endpoint}")


def test_a_record_phoenix_rejects_is_named_and_the_rest_is_sent(
    phoenix_server, phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    store = _pulled(phoenix, samples, tmp_path / "a.db")
    span_ids = [
        r[0] for r in store.connection.execute("SELECT span_id FROM spans ORDER BY span_id LIMIT 9")
    ]
    for span_id in span_ids:
        store.set_annotation(Annotation(name="flag", span_id=span_id, label="x", identifier="q"))
    bad = span_ids[5]

    def reject(seen: Seen) -> object:
        if _posts("span_annotations")(seen) and bad.encode() in seen.body:
            return Reply(
                422,
                orjson.dumps({"detail": [{"loc": ["body", "data", 0, "result"], "msg": "nope"}]}),
                {"content-type": "application/json"},
            )
        return None

    with FaultProxy(phoenix_server.url) as proxy:
        proxy.rules.append(reject)
        with connect(proxy.url, backoff=0.01) as client:
            report = push(store, client, batch_size=8)
        # 8 refused -> 4 + 4 -> the 4 with it -> 2 + 2 -> 1 + 1; then the last batch of 1
        assert proxy.count(_posts("span_annotations")) == 8
    assert report.sent == {"span_annotations": 8}
    row_id = store.connection.execute(
        "SELECT id FROM annotations WHERE span_id = ?", (bad,)
    ).fetchone()[0]
    assert report.rejected == [
        f"'flag' by q on span {bad} (annotation #{row_id}): Phoenix said: data.0.result: nope"
    ]
    stored = {r["span_id"] for r in _read(phoenix, samples.name, "span", span_ids)}
    assert stored == set(span_ids) - {bad}
    store.close()


def test_a_push_cut_off_half_way_resumes_with_the_rest(
    phoenix_server, phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    store = _pulled(phoenix, samples, tmp_path / "a.db")
    span_ids = [
        r[0]
        for r in store.connection.execute("SELECT span_id FROM spans ORDER BY span_id LIMIT 12")
    ]
    assert len(span_ids) == 12  # three batches of 4
    for span_id in span_ids:
        store.set_annotation(Annotation(name="flag", span_id=span_id, label="y", identifier="r"))
    calls = [0]

    def gone_after_first(seen: Seen) -> object:
        if _posts("span_annotations")(seen):
            calls[0] += 1
            return DROP if calls[0] > 1 else None
        return None

    with FaultProxy(phoenix_server.url) as proxy:
        proxy.rules.append(gone_after_first)
        with connect(proxy.url, backoff=0.01, retries=1) as client:
            with pytest.raises(Unreachable) as caught:
                push(store, client, batch_size=4)
        assert str(caught.value).startswith(
            f"sending 4 item(s) to /v1/span_annotations: the connection to Phoenix at "
            f"{proxy.url} was lost"
        )
        sent = store.connection.execute("SELECT count(*) FROM phoenix_sent").fetchone()[0]
        assert sent == 4  # the confirmed batch stays confirmed
        proxy.rules.clear()  # the server is back
        before = proxy.count(_posts("span_annotations"))
        with connect(proxy.url, backoff=0.01) as client:
            report = push(store, client, batch_size=4)
        assert report.sent == {"span_annotations": 8}
        assert report.unchanged == 4
        assert proxy.count(_posts("span_annotations")) - before == 2
    stored = {r["span_id"] for r in _read(phoenix, samples.name, "span", span_ids)}
    assert stored == set(span_ids)
    store.close()


def test_503_during_a_push_is_retried(
    phoenix_server, phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    store = _pulled(phoenix, samples, tmp_path / "a.db")
    span_id = store.connection.execute("SELECT span_id FROM spans LIMIT 1").fetchone()[0]
    store.set_annotation(Annotation(name="flag", span_id=span_id, label="z", identifier="s"))
    with FaultProxy(phoenix_server.url) as proxy:
        proxy.times(2, Reply(503, b"queue full"), _posts("span_annotations"))
        with connect(proxy.url, backoff=0.01) as client:
            report = push(store, client)
        assert proxy.count(_posts("span_annotations")) == 3
    assert report.sent == {"span_annotations": 1}
    store.close()

"""`annotator stats`: progress, annotators, label distributions and agreement, as Rich tables or
JSON (the structure is documented in `annotator.team.stats`).

Every cell that holds data (names, labels, identifiers: untrusted) is a `rich.text.Text` built
from sanitised text, so nothing from the database is ever parsed as markup or reaches the
terminal as a control sequence.
"""

from __future__ import annotations

from typing import Any

import click

from annotator.cli.common import BadInput, bad_input_on, db_option, friendly_errors
from annotator.cli.filter_options import filter_options, selection_from
from annotator.cli.output import SafeConsole, say_json

_LABEL_WIDTH = 40  # longest config name / value shown in a cell before it is clipped
_NAME_WIDTH = 32  # rater names


@click.command("stats")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for machines).")
@click.option(
    "--name",
    "names",
    multiple=True,
    metavar="CONFIG",
    help="Only this annotation config / name (repeatable).",
)
@click.option(
    "--level",
    default="auto",
    show_default=True,
    metavar="LEVEL",
    help="Agreement level: auto (nominal for categorical, interval for continuous), nominal, "
    "ordinal, interval or ratio.",
)
@filter_options
@friendly_errors
def stats_command(
    db_path: str,
    as_json: bool,
    names: tuple[str, ...],
    level: str,
    where: str | None,
    trace_where: str | None,
    search: str | None,
) -> None:
    """Progress, annotators, label distributions and agreement.

    Per config: applicable and annotated items, label counts or score summaries, and
    agreement (percent, Cohen's and Fleiss' kappa, Krippendorff's alpha) among humans and
    between each human and each LLM/CODE evaluator (to calibrate an LLM judge).
    With --where / --trace-where / --search: only the selected spans and the annotations about
    them (a trace's annotations count when its root span is selected).
    """
    from annotator.store import Store
    from annotator.team.stats import LEVEL_CHOICES, StatsError, compute_stats

    level = level.strip().lower()
    if level not in LEVEL_CHOICES:
        raise BadInput(f"--level: unknown level {level!r}: use {', '.join(LEVEL_CHOICES)}")
    selection = selection_from(where, trace_where, search)
    with Store.open(db_path, readonly=True) as store, bad_input_on(StatsError):
        report = compute_stats(
            store, names=names or None, level=level, database=db_path, spans=selection
        )
    if as_json:
        say_json(report)
        return
    render(report)


# --------------------------------------------------------------------------------------------
# Rich rendering


def _console(console: Any = None) -> SafeConsole:
    return console if isinstance(console, SafeConsole) else SafeConsole(console)


def _text(value: Any, limit: int = _LABEL_WIDTH, style: str = "") -> Any:
    """Data as a Text cell: sanitised (control characters shown as escapes), clipped, no markup."""
    from rich.text import Text

    from annotator.text import format_number, sanitize

    if value is None:
        return Text("—", style="dim")
    shown = format_number(round(value, 3)) if isinstance(value, float) else str(value)
    shown = sanitize(shown).replace("\n", "⏎").replace("\t", " ")
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return Text(shown, style=style)


def _num(value: float | None, digits: int = 3) -> Any:
    from rich.text import Text

    if value is None:
        return Text("—", style="dim")
    return Text(f"{value:.{digits}f}")


def _pct(value: float | None) -> Any:
    from rich.text import Text

    if value is None:
        return Text("—", style="dim")
    return Text(f"{100 * value:.1f}%")


def _int(value: int | None) -> Any:
    from rich.text import Text

    if value is None:
        return Text("?", style="dim")
    return Text(f"{value:,}")


def _time(value: str | None) -> Any:
    from rich.text import Text

    if not value:
        return Text("—", style="dim")
    return _text(value[:16].replace("T", " "))


def _rater_cell(rater: str | None) -> Any:
    """A rater's name, or "all" for the overall row (rater None)."""
    from rich.text import Text

    return Text("all", style="bold") if rater is None else _text(rater, _NAME_WIDTH)


def _heading(words: str, data: Any, more_words: str = "") -> Any:
    """A line: fixed words, data (sanitised, clipped, highlighted), fixed words."""
    from rich.text import Text

    line = Text(words, style="bold")
    line.append_text(_text(data, limit=80, style="bold cyan"))
    line.append(more_words, style="bold")
    return line


def render(report: dict[str, Any], console: Any = None) -> None:
    from rich.table import Table
    from rich.text import Text

    console = _console(console)
    totals = report["totals"]
    console.print(
        Text(
            f"{totals['spans']:,} spans, {totals['traces']:,} traces, "
            f"{totals['sessions']:,} sessions, {totals['annotations']:,} annotations"
        )
    )
    for option, key in (
        ("--where", "where"),
        ("--trace-where", "trace_where"),
        ("--search", "search"),
    ):
        if report.get(key):
            console.print(_heading(f"Selected by {option} ", report[key]))
    if report["configs_source"] == "annotations":
        console.print(
            Text(
                "No configs stored in the database: names taken from the annotations.",
                style="dim",
            )
        )

    if not report["configs"]:
        console.print(Text("Nothing to report: no stored configs and no annotations.", style="dim"))
        return

    # progress -------------------------------------------------------------------------------
    table = Table(title="Progress", title_justify="left", expand=False)
    table.add_column("Config")
    table.add_column("Target")
    table.add_column("Applicable", justify="right")
    table.add_column("Annotated", justify="right")
    table.add_column("Done", justify="right")
    table.add_column("Items by rater")
    for config in report["configs"]:
        progress = config["progress"]
        applicable = progress["applicable"]
        human = progress["annotated_by_human"]
        done = human / applicable if applicable else None
        by_rater = Text("\n").join(
            _text(entry["rater"], _NAME_WIDTH) + Text(f" {entry['items']:,}")
            for entry in progress["by_rater"]
        )
        name = _text(config["name"])
        if not config["stored"]:
            name.append(" *", style="dim")
        table.add_row(
            name,
            _text(config["target"]),
            _int(applicable),
            _int(progress["annotated"]),
            _pct(done),
            by_rater,
        )
    console.print(table)
    note = "Done = items with a human annotation / applicable items."
    if any(not c["stored"] for c in report["configs"]):
        note = "* not a stored config: type inferred from the annotations. " + note
    console.print(Text(note, style="dim"))

    # annotators -------------------------------------------------------------------------------
    if not report["annotators"]:
        console.print(Text("No annotations yet.", style="dim"))
    table = Table(title="Annotators", title_justify="left")
    table.add_column("Rater")
    table.add_column("Kind")
    table.add_column("Annotations", justify="right")
    table.add_column("Items", justify="right")
    table.add_column("s/item", justify="right")
    table.add_column("First (UTC)", no_wrap=True)
    table.add_column("Last (UTC)", no_wrap=True)
    for entry in report["annotators"]:
        median = entry["median_seconds_per_item"]
        table.add_row(
            _text(entry["rater"], _NAME_WIDTH),
            Text(entry["annotator_kind"]),
            _int(entry["annotations"]),
            _int(entry["items"]),
            _num(median, 1) if median is not None else Text("—", style="dim"),
            _time(entry["first_activity"]),
            _time(entry["last_activity"]),
        )
    if report["annotators"]:
        console.print(table)
    _render_assignments(console, report.get("assignments") or [])

    for config in report["configs"]:
        if config["annotations"]:  # a config nobody used yet is only a row in Progress
            _render_config(console, config)


def _render_config(console: Any, config: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    console.print()
    kind = config["type"].lower() + ("" if config["stored"] else ", inferred")
    count = config["annotations"]
    noun = "annotation" if count == 1 else "annotations"
    console.rule(_heading("", config["name"], f"  ({kind}, {count:,} {noun})"))
    distribution = config["distribution"]
    if distribution is not None and distribution["kind"] == "labels":
        labels = distribution["labels"]
        table = Table(title="Labels", title_justify="left")
        table.add_column("Rater")
        for label in labels:
            table.add_column(_text(label, 24), justify="right")
        has_unlabeled = distribution["overall"]["unlabeled"] > 0
        if has_unlabeled:
            table.add_column("(none)", justify="right")
        rows = [*distribution["by_rater"], {"rater": None, **distribution["overall"]}]
        for row in rows:
            cells = [_rater_cell(row["rater"])]
            cells += [_int(row["counts"].get(label, 0)) for label in labels]
            if has_unlabeled:
                cells.append(_int(row["unlabeled"]))
            table.add_row(*cells)
        console.print(table)
    elif distribution is not None:
        table = Table(title="Scores", title_justify="left")
        for column in ("Rater", "n", "min", "median", "mean", "max"):
            table.add_column(column, justify="left" if column == "Rater" else "right")
        rows = [*distribution["by_rater"], {"rater": None, **distribution["overall"]}]
        for row in rows:
            table.add_row(
                _rater_cell(row["rater"]),
                _int(row["n"]),
                *(_text(row[k]) for k in ("min", "median", "mean", "max")),
            )
        console.print(table)

    agreement = config["agreement"]
    if agreement is None:
        console.print(Text("Free text: no agreement measures.", style="dim"))
        return
    if agreement["problem"]:
        console.print(_heading("Agreement not computed: ", agreement["problem"]))
        return
    level = agreement["level"]
    line = Text(f"Humans ({level}): ", style="bold")
    if len(agreement["raters"]) < 2:
        line.append(f"{len(agreement['raters'])} human rater(s), no agreement to measure.")
        console.print(line)
    else:
        line.append(f"{agreement['n']:,} items rated by two or more")
        if level == "nominal":
            line.append("   Fleiss' κ ")
            line.append_text(_num(agreement["fleiss_kappa"]))
        line.append("   Krippendorff's α ")
        line.append_text(_num(agreement["krippendorff_alpha"]))
        console.print(line)
        if agreement["pairs"]:
            console.print(_pairs_table("Human pairs", agreement["pairs"], config, "A", "B"))
            _confusions(console, agreement["pairs"])
        else:
            console.print(Text("No two humans rated the same item.", style="dim"))
    if config["human_vs_machine"]:
        console.print(
            _pairs_table(
                "Human vs LLM/CODE", config["human_vs_machine"], config, "Human", "Evaluator"
            )
        )
        _confusions(console, config["human_vs_machine"])
    _render_calibration(console, config)


def _render_assignments(console: Any, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not rows:
        return
    table = Table(title="Assignments (assigned done / total)", title_justify="left")
    for column in ("Annotator", "Items", "Spans done", "Spans", "Done", "Skipped", "Flagged"):
        table.add_column(column, justify="left" if column == "Annotator" else "right")
    for row in rows:
        table.add_row(
            _text(row["annotator"], _NAME_WIDTH),
            _int(row["items"]),
            _int(row["spans_done"]),
            _int(row["spans"]),
            _pct(row["spans_done"] / row["spans"] if row["spans"] else None),
            _int(row["skipped"]),
            _int(row["flagged"]),
        )
    console.print(table)


def _render_calibration(console: Any, config: dict[str, Any]) -> None:
    """Each LLM/CODE evaluator against the final values."""
    from rich.table import Table
    from rich.text import Text

    final = config.get("final") or {}
    if final.get("items"):
        line = Text(f"Final values: {final['items']:,} items", style="bold")
        values = ", ".join(f"{value} {count:,}" for value, count in final["values"].items())
        console.print(line + Text(" (") + _text(values, 200) + Text(")"))
    for entry in config.get("calibration") or []:
        labels, scores = entry["labels"], entry["scores"]
        heading = Text("Calibration of ", style="bold") + _text(entry["rater"], _NAME_WIDTH)
        console.print(heading + Text(" against the final values", style="bold"))
        if labels:
            line = Text(f"  {labels['n']:,} items: accuracy ")
            line.append_text(_pct(labels["accuracy"]))
            line.append("   Cohen's κ ")
            line.append_text(_num(labels["cohen_kappa"]))
            console.print(line)
            table = Table(title="Per label (final = truth)", title_justify="left")
            for column in ("Label", "Precision", "Recall", "F1", "Support"):
                table.add_column(column, justify="left" if column == "Label" else "right")
            for row in labels["per_label"]:
                table.add_row(
                    _text(row["label"]),
                    _num(row["precision"]),
                    _num(row["recall"]),
                    _num(row["f1"]),
                    _int(row["support"]),
                )
            console.print(table)
            confusion = labels["confusion"]
            matrix = Table(
                title="Confusion (rows: final, columns: evaluator)", title_justify="left"
            )
            matrix.add_column("")
            for label in confusion["labels"]:
                matrix.add_column(_text(label, 16), justify="right")
            for label, counts in zip(confusion["labels"], confusion["counts"], strict=True):
                matrix.add_row(_text(label, 16), *(_int(c) for c in counts))
            console.print(matrix)
        if scores:
            line = Text(f"  score vs final label ({scores['n']:,} items, positive: ")
            line.append_text(_text(scores["positive_label"]))
            line.append("): ROC-AUC ")
            line.append_text(_num(scores["roc_auc"]))
            line.append("   best threshold score >= ")
            line.append_text(_text(scores["threshold"]))
            line.append(" agrees on ")
            line.append_text(_pct(scores["threshold_accuracy"]))
            console.print(line)


def _pairs_table(
    title: str, pairs: list[dict[str, Any]], config: dict[str, Any], a: str, b: str
) -> Any:
    from rich.table import Table

    nominal = config["agreement"]["level"] == "nominal"
    continuous = config["type"] == "CONTINUOUS"
    table = Table(title=title, title_justify="left")
    table.add_column(a)
    table.add_column(b)
    table.add_column("n", justify="right")
    if nominal:
        table.add_column("Agree", justify="right")
        table.add_column("Cohen's κ", justify="right")
    table.add_column("Kripp. α", justify="right")
    if continuous:
        table.add_column("Mean |Δ|", justify="right")
        table.add_column("Pearson r", justify="right")
    for pair in pairs:
        cells = [
            _text(pair["rater_a"], _NAME_WIDTH),
            _text(pair["rater_b"], _NAME_WIDTH),
            _int(pair["n"]),
        ]
        if nominal:
            cells += [_pct(pair["percent_agreement"]), _num(pair["cohen_kappa"])]
        cells.append(_num(pair["krippendorff_alpha"]))
        if continuous:
            cells += [_num(pair["mean_abs_diff"]), _num(pair["pearson_r"])]
        table.add_row(*cells)
    return table


def _confusions(console: Any, pairs: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    for pair in pairs:
        confusion = pair["confusion"]
        if not confusion or not confusion["labels"]:
            continue
        title = Text("Confusion: rows ")
        title.append_text(_text(pair["rater_a"], _NAME_WIDTH, style="bold"))
        title.append(", columns ")
        title.append_text(_text(pair["rater_b"], _NAME_WIDTH, style="bold"))
        console.print(title)
        table = Table()
        table.add_column("")
        for label in confusion["labels"]:
            table.add_column(_text(label, 24), justify="right")
        rows = zip(confusion["labels"], confusion["counts"], strict=True)
        for i, (label, row) in enumerate(rows):
            cells = [
                Text(f"{c:,}", style="bold" if i == j and c else "") for j, c in enumerate(row)
            ]
            table.add_row(_text(label, 24), *cells)
        console.print(table)

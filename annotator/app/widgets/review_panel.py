"""The review panel: one item, each rater's value side by side with the majority, the final
value if there is one, flag reasons, and the keys that decide. Everything untrusted (rater
names, labels, span names, flag reasons) is sanitized, clipped and appended as plain Text."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from annotator.config import AnnotationConfig, AnnotationType
from annotator.model import Annotation
from annotator.team.review import FEW_VOTES, ReviewItem, vote_text
from annotator.text import clip, sanitize

NAME_CHARS = 40  # a rater's name, a label, a span name, as shown
REASON_CHARS = 200  # a flag reason
RATERS_SHOWN = 30  # more raters than this: "… and N more"


def plain(text: str, limit: int = NAME_CHARS) -> str:
    shown, cut = clip(sanitize(" ".join(str(text).split())), limit)
    return shown + ("…" if cut else "")


class ReviewPanel(Static):
    DEFAULT_CSS = """
    ReviewPanel {
        height: 1fr;
        padding: 0 1;
        overflow-y: auto;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", markup=False, **kwargs)

    def show(
        self,
        item: ReviewItem | None,
        config: AnnotationConfig | None,
        final: Annotation | None,
    ) -> None:
        self.update(review_text(item, config, final))


def review_text(
    item: ReviewItem | None, config: AnnotationConfig | None, final: Annotation | None
) -> Text:
    text = Text()
    if item is None:
        text.append("No disagreements to review", style="bold")
        text.append(
            "\nNo item has two raters' different values (nor, with --per-item, too few "
            "answers).\nq quits."
        )
        return text
    where = item.target if item.document_position is None else f"document {item.document_position}"
    text.append(plain(item.name), style="bold")
    text.append(f"  on {where} ")
    text.append(plain(item.span_name or "(unnamed)"), style="italic")
    text.append(f"  {item.target_id[:16]}\n", style="dim")
    if item.reason == FEW_VOTES:
        text.append("too few answers\n", style="yellow")
    text.append("\nVotes\n", style="underline")
    majority = item.majority()
    for who, vote in list(item.votes.items())[:RATERS_SHOWN]:
        text.append(f"  {plain(who):<20} ")
        text.append(plain(vote_text(vote)), style="bold" if vote == majority else "")
        text.append("\n")
    if len(item.votes) > RATERS_SHOWN:
        text.append(f"  … and {len(item.votes) - RATERS_SHOWN} more\n", style="dim")
    text.append("\nMajority  ")
    if majority is None:
        text.append("none (a tie or a split)", style="yellow")
    else:
        text.append(plain(vote_text(majority)), style="bold")
    text.append("\nFinal     ")
    if final is None:
        text.append("not decided", style="dim")
    else:
        value = final.label if final.label is not None else final.score
        text.append(plain(vote_text(value)) if value is not None else "(no value)", style="green")
        meta = final.metadata or {}
        who = meta.get("reviewer") or meta.get("decided_by") or ""
        if who:
            text.append(f"  by {plain(str(who))}", style="dim")
    text.append("\n")
    if item.flags:
        text.append("\nFlagged\n", style="underline")
        for who, reason in item.flags[:RATERS_SHOWN]:
            text.append(f"  {plain(who)}: ")
            text.append(plain(reason, REASON_CHARS) or "(no reason)")
            text.append("\n")
    text.append("\nKeys  ", style="underline")
    hints: list[tuple[str, str]] = []
    if config is not None and config.type == AnnotationType.CATEGORICAL:
        hints += [(f"{choice.key}", plain(choice.label, 20)) for choice in config.values]
    elif config is not None:
        hints.append(("e", "type a score"))
    hints += [("a", "majority"), ("x", "clear final"), ("u", "undo"), ("j/k", "next/prev")]
    hints.append(("q", "quit"))
    for number, (key, what) in enumerate(hints, 1):
        text.append(f" {key} ", style="reverse")
        text.append(f" {what}" + ("  " if number < len(hints) else ""))
    return text

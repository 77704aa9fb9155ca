"""Timestamps: every input form to one ISO-8601 UTC text form.

Trace files carry times as unix nanoseconds (OTLP, as strings or numbers), epoch milliseconds
(DataFrame JSON) or ISO strings with any offset (Phoenix REST). The store keeps
``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` so that text order is time order.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_from_unix_nanos(nanos: int | str | float | None) -> str | None:
    """Unix nanoseconds to ISO UTC, rounded to the microsecond exactly as Phoenix does.

    Phoenix decodes OTLP times with ``datetime.fromtimestamp(nanos / 1e9)`` (float seconds, then
    round-half-even to the microsecond), and its other exports carry the result. Doing the same
    here makes a span read from OTLP carry the very time Phoenix shows for it (truncating would
    differ by 1 µs for about half the spans, exact rounding for about one in 500).
    """
    if nanos is None or nanos == "":
        return None
    n = int(nanos)
    if n <= 0:
        return None
    frac, whole = math.modf(n / 1e9)
    micros = round(frac * 1e6)
    if micros >= 1_000_000:
        whole += 1.0
        micros -= 1_000_000
    return _format_parts(int(whole), micros)


def iso_from_epoch_millis(millis: int | float | None) -> str | None:
    if millis is None:
        return None
    if type(millis) is int:
        micros = millis * 1000
    else:
        micros = round(float(millis) * 1000)
    if micros <= 0:
        return None
    seconds, rem = divmod(micros, 1_000_000)
    return _format_parts(seconds, rem)


# "YYYY-MM-DDTHH:MM:SS" per whole second: spans of a file cluster in time, so this saves building
# a datetime for most conversions.
_SECOND_PREFIX: dict[int, str] = {}


def _format_parts(seconds: int, micros: int) -> str:
    prefix = _SECOND_PREFIX.get(seconds)
    if prefix is None:
        try:
            prefix = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")[:19]
        except (OverflowError, OSError) as exc:
            raise ValueError(f"time out of range: {seconds} s since 1970") from exc
        if len(_SECOND_PREFIX) >= 65536:
            _SECOND_PREFIX.clear()
        _SECOND_PREFIX[seconds] = prefix
    return f"{prefix}.{micros:06d}+00:00"


def iso_from_any(value: object) -> str | None:
    """Best effort for a time of unknown form: ISO text, or a number whose size gives its unit."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return _from_number(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return _from_number(int(text))
        return normalise_iso(text)
    raise ValueError(f"not a time: {value!r}")


def _from_number(value: float) -> str | None:
    # Pick the unit by magnitude: nanoseconds since 1970 are ~1.7e18, millis ~1.7e12.
    magnitude = abs(value)
    if magnitude >= 1e17:
        return iso_from_unix_nanos(int(value))
    if magnitude >= 1e14:
        return iso_from_unix_nanos(int(value) * 1000)  # microseconds
    if magnitude >= 1e11:
        return iso_from_epoch_millis(value)
    return iso_from_epoch_millis(value * 1000)  # seconds


def normalise_iso(text: str) -> str:
    """ISO text with any offset (or ``Z``, or none = UTC) to the canonical UTC form."""
    if (
        len(text) == 32
        and text[19] == "."
        and text[26:] == "+00:00"
        and text[10] == "T"
        and text[:4].isdigit()
        and text[20:26].isdigit()
    ):
        return text  # already canonical (Phoenix REST / legacy exports)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _format(parsed.astimezone(UTC))


def _format(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def latency_ms(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (parse_iso(end) - parse_iso(start)).total_seconds() * 1000.0


def now_iso() -> str:
    return _format(datetime.now(UTC))

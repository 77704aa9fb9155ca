"""Timestamps: every input form to one ISO-8601 UTC text form.

Trace files carry times as unix nanoseconds (OTLP, as strings or numbers), epoch milliseconds
(DataFrame JSON) or ISO strings with any offset (Phoenix REST). The store keeps
``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` so that text order is time order.
"""

from __future__ import annotations

from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_from_unix_nanos(nanos: int | str | float | None) -> str | None:
    if nanos is None or nanos == "":
        return None
    n = int(nanos)
    if n <= 0:
        return None
    seconds, rem = divmod(n, 1_000_000_000)
    return _format(datetime.fromtimestamp(seconds, UTC).replace(microsecond=rem // 1000))


def iso_from_epoch_millis(millis: int | float | None) -> str | None:
    if millis is None:
        return None
    micros = round(float(millis) * 1000)
    if micros <= 0:
        return None
    seconds, rem = divmod(micros, 1_000_000)
    return _format(datetime.fromtimestamp(seconds, UTC).replace(microsecond=rem))


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

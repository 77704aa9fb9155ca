"""Sync with a live Arize Phoenix server: `pull` and `push`.

Core code: no Textual. Importing this package needs nothing beyond annotator's own dependencies;
talking to a server needs Phoenix's client (``pip install 'annotator[phoenix]'``), and without
it `connect` raises `MissingExtra` whose message is the one line to print.

    from annotator.phoenix import connect, pull, push
    with connect(url=None) as client:          # PHOENIX_BASE_URL, PHOENIX_API_KEY, ... as Phoenix
        print(pull(store, client, "my-project", progress=print).summary())
        print(push(store, client, project="my-project").summary())

Modules: `connection` (settings, retries, errors), `pulling`, `pushing`, `span_sending`
(push --spans), `otlp` (sending OTLP/JSON files to Phoenix), `local_server` (a real Phoenix
on loopback for tests and benchmarks), `errors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from annotator.phoenix.errors import (
    AuthError,
    BadSettings,
    MissingExtra,
    NotFound,
    PhoenixError,
    Rejected,
    ServerError,
    Timeout,
    Unreachable,
    VersionTooOld,
)
from annotator.phoenix.pulling import PullReport, pull
from annotator.phoenix.pushing import PushReport, push
from annotator.phoenix.span_sending import SpanPushReport, send_missing_spans

if TYPE_CHECKING:
    from annotator.phoenix.connection import PhoenixClient

__all__ = [
    "AuthError",
    "BadSettings",
    "MissingExtra",
    "NotFound",
    "PhoenixError",
    "PullReport",
    "PushReport",
    "Rejected",
    "ServerError",
    "SpanPushReport",
    "Timeout",
    "Unreachable",
    "VersionTooOld",
    "connect",
    "pull",
    "push",
    "send_missing_spans",
]


def connect(url: str | None = None, **options: Any) -> PhoenixClient:
    """A client for the Phoenix at `url` (else the environment, as Phoenix reads it).
    `options`: api_key, headers, timeout, retries, backoff (see `connection.settings_from_env`)."""
    from annotator.phoenix.connection import PhoenixClient, settings_from_env

    return PhoenixClient(settings_from_env(url, **options))

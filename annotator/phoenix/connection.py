"""Talking to a Phoenix server: settings, retries, and one clear exception per failure.

Settings follow Phoenix's own conventions, resolved by Phoenix's client library
(``phoenix.client.utils.config``) so that they mean here exactly what they mean to every other
Phoenix tool: the server URL from ``--url``, else ``PHOENIX_ENDPOINT``,
``PHOENIX_COLLECTOR_ENDPOINT`` (its ``/v1/traces`` path dropped), ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``PHOENIX_BASE_URL``, ``PHOENIX_HOST``/``PHOENIX_PORT``, else ``http://localhost:6006``; headers
from ``PHOENIX_CLIENT_HEADERS`` (W3C baggage form: ``k1=v1,k2=v2``) and the API key
``PHOENIX_API_KEY`` as ``Authorization: Bearer ...``. https works (certificates checked as httpx
does; ``SSL_CERT_FILE`` names a private CA bundle). The key lives only in the request headers:
it is never printed (messages and reprs show the URL without credentials) and never stored.

Every request goes through `RetryTransport`: HTTP 429, 500, 502, 503 and 504 (Phoenix answers
503 when its ingestion queue is full), refused or dropped connections and timeouts are retried
with exponential backoff (a ``Retry-After`` header is honoured), a bounded number of times.
Phoenix's annotation writes are upserts by (name, target, identifier), so sending one again is
safe. What still fails becomes one `PhoenixError` whose message says what failed and what to do.

Phoenix's Python client (``arize-phoenix-client``) is used for what it covers (settings, project
lookup, version checks, span annotation reads, annotation writes); this module adds the paged
reads the client hides behind a single call (spans with their cursor, so a pull can resume) and
the GraphQL reads Phoenix's REST API lacks (document annotations, filtered spans).
"""

from __future__ import annotations

import email.utils
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from annotator.phoenix import errors
from annotator.phoenix.errors import TESTED_VERSION, PhoenixError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_DELAY = 8.0


def _require_client() -> Any:
    try:
        import httpx  # noqa: F401
        import phoenix.client
    except ImportError as exc:
        raise errors.MissingExtra(exc.name or "arize-phoenix-client") from None
    return phoenix.client


@dataclass(frozen=True)
class Settings:
    """Where Phoenix is and how to reach it. `headers` (with the key) never appear in repr."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 30.0  # seconds per request (connect: at most 10)
    retries: int = 4  # extra attempts after the first
    backoff: float = 0.5  # first retry delay; doubles each time, at most MAX_DELAY
    verify: bool | str = True  # https certificate check (or a CA bundle path)

    @property
    def display_url(self) -> str:
        return display_url(self.base_url)

    @property
    def has_api_key(self) -> bool:
        return any(k.lower() == "authorization" for k in self.headers)


def display_url(url: str) -> str:
    """The URL without user:password and query (what may be printed)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def settings_from_env(
    url: str | None = None,
    *,
    api_key: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    retries: int = 4,
    backoff: float = 0.5,
) -> Settings:
    """Settings from explicit values, else the environment as Phoenix reads it."""
    _require_client()
    from phoenix.client.utils.config import get_base_url, get_env_client_headers

    try:
        base = str(url).strip() if url else str(get_base_url())
    except Exception as exc:
        raise errors.BadSettings(f"Phoenix URL setting: {exc}") from None
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.BadSettings(
            f"Phoenix URL {display_url(base)!r} is not an http:// or https:// URL "
            "(--url, PHOENIX_BASE_URL or PHOENIX_COLLECTOR_ENDPOINT)"
        )
    merged = dict(headers or {})
    names = {k.lower() for k in merged}
    for key, value in get_env_client_headers().items():
        if key.lower() not in names:
            merged[key] = value
    if api_key:
        merged = {k: v for k, v in merged.items() if k.lower() != "authorization"}
        merged["Authorization"] = f"Bearer {api_key}"
    return Settings(
        base_url=base.rstrip("/"),
        headers=merged,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _transport_class() -> type:
    import httpx

    class RetryTransport(httpx.BaseTransport):
        """Retries what a later attempt can fix; counts the time spent waiting for Phoenix."""

        def __init__(self, settings: Settings, sleep: Callable[[float], None]) -> None:
            # The CA certificates (~20 ms to load) only where https is used: an http:// Phoenix
            # gets a transport whose TLS context trusts no certificate at all (so it can never
            # complete a handshake, let alone an unverified one), and an https request made
            # through it anyway goes to a verified transport made for it then.
            self._verify = settings.verify
            self._tls: httpx.HTTPTransport | None = None
            if urlsplit(settings.base_url).scheme == "https":
                self._tls = self._plain = httpx.HTTPTransport(verify=settings.verify)
            else:
                self._plain = httpx.HTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
            self._retries = max(0, settings.retries)
            self._backoff = settings.backoff
            self._sleep = sleep
            self.seconds = 0.0  # waiting for the server (not sleeping between attempts)
            self.requests = 0
            self.retried = 0

        def _delay(self, attempt: int, hint: float | None) -> float:
            delay = min(MAX_DELAY, self._backoff * (2**attempt))
            return min(MAX_DELAY, hint) if hint is not None else delay

        def _inner(self, request: httpx.Request) -> httpx.HTTPTransport:
            if request.url.scheme != "https":
                return self._plain
            if self._tls is None:
                try:
                    self._tls = httpx.HTTPTransport(verify=self._verify)
                except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                    raise errors.BadSettings(_ca_problem(exc)) from None
            return self._tls

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            inner = self._inner(request)
            request.read()  # a body we can send again
            attempt = 0
            while True:
                started = time.perf_counter()
                self.requests += 1
                try:
                    response = inner.handle_request(request)
                    if response.status_code in RETRY_STATUSES and attempt < self._retries:
                        hint = _retry_after(response.headers.get("retry-after"))
                        response.read()
                        response.close()
                        self.seconds += time.perf_counter() - started
                        self._sleep(self._delay(attempt, hint))
                        attempt += 1
                        self.retried += 1
                        continue
                    response.read()
                    self.seconds += time.perf_counter() - started
                    return response
                except httpx.TransportError as exc:
                    self.seconds += time.perf_counter() - started
                    if (
                        attempt >= self._retries
                        or isinstance(exc, httpx.UnsupportedProtocol)
                        or _tls_failure(exc) is not None  # a certificate does not mend itself
                    ):
                        raise
                    self._sleep(self._delay(attempt, None))
                    attempt += 1
                    self.retried += 1

        def close(self) -> None:
            self._plain.close()
            if self._tls is not None and self._tls is not self._plain:
                self._tls.close()

    return RetryTransport


class PhoenixClient:
    """One connection to one Phoenix. Use as a context manager (or call `close`)."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        client_module = _require_client()
        import httpx

        self.settings = settings
        self.url = settings.display_url
        try:
            self._transport = _transport_class()(settings, sleep)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise errors.BadSettings(_ca_problem(exc)) from None
        self.http = httpx.Client(
            base_url=settings.base_url,
            headers=settings.headers,
            timeout=httpx.Timeout(settings.timeout, connect=min(10.0, settings.timeout)),
            transport=self._transport,
        )
        # Phoenix's own client, on the same connection (and so the same retries).
        self.px = client_module.Client(http_client=self.http)
        self._version: str | None = None

    def __repr__(self) -> str:
        return f"PhoenixClient({self.url!r})"

    def __enter__(self) -> PhoenixClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    @property
    def phoenix_seconds(self) -> float:
        """Time spent waiting for Phoenix's answers, over every request so far."""
        return self._transport.seconds

    @property
    def request_count(self) -> int:
        return self._transport.requests

    # --- requests -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Any = None,
        json: Any = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> Any:
        """One request; its JSON body (None when empty). Anything else raises PhoenixError."""
        with self.errors(what):
            response = self.http.request(method, path, params=params, json=json)
        if response.status_code not in ok:
            raise self.error_for(response, what)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise errors.Rejected(
                f"{what}: Phoenix at {self.url} answered HTTP {response.status_code} with "
                f"something that is not JSON: {_one_line(response.text)}",
                response.status_code,
                response.text,
            ) from None

    def graphql(self, query: str, variables: dict[str, Any], *, what: str) -> dict[str, Any]:
        body = self.request(
            "POST", "/graphql", what=what, json={"query": query, "variables": variables}
        )
        if not isinstance(body, dict):
            raise errors.Rejected(f"{what}: unexpected GraphQL answer", 200, str(body))
        problems = body.get("errors")
        if problems:
            message = "; ".join(str(p.get("message", p)) for p in problems if isinstance(p, dict))
            raise errors.Rejected(f"{what}: Phoenix said: {_one_line(message)}", 200, message)
        return body.get("data") or {}

    def version(self) -> str | None:
        """The server's version (``GET /arize_phoenix_version``), None when it does not say."""
        if self._version is None:
            try:
                with self.errors("reading the server version"):
                    response = self.http.get("/arize_phoenix_version")
            except errors.PhoenixError:
                return None
            if response.status_code != 200:
                return None
            self._version = response.text.strip() or None
        return self._version

    def require(self, requirement: Any, what: str) -> None:
        """Check a capability Phoenix's client declares (``phoenix.client.constants.
        server_requirements``) against the server's version: VersionTooOld when missing."""
        from phoenix.client.exceptions import PhoenixException
        from phoenix.client.utils.server_requirements import ServerVersionGuard

        with self.errors(what):
            try:
                ServerVersionGuard(self.http).require(requirement)
            except PhoenixException:
                raise errors.VersionTooOld(
                    f"{what} needs Phoenix {requirement.min_server_version} or newer; Phoenix "
                    f"at {self.url} is {self.version() or 'older'} ({requirement})"
                ) from None

    @contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Turn transport failures and the HTTP errors Phoenix's client raises into
        PhoenixError."""
        import httpx

        try:
            yield
        except errors.PhoenixError:
            raise
        except httpx.HTTPStatusError as exc:
            raise self.error_for(exc.response, what) from None
        except httpx.TimeoutException:
            raise errors.Timeout(
                f"{what}: Phoenix at {self.url} did not answer within "
                f"{self.settings.timeout:g}s ({self.settings.retries + 1} attempts)"
            ) from None
        except httpx.ConnectError as exc:
            tls = _tls_failure(exc)
            if isinstance(tls, ssl.SSLCertVerificationError):
                raise errors.Unreachable(
                    f"{what}: the https certificate of Phoenix at {self.url} is not trusted "
                    f"({_one_line(tls.verify_message or str(tls))}): if it is signed by your own "
                    "certificate authority, set SSL_CERT_FILE to its certificate (PEM)"
                ) from None
            if tls is not None:
                raise errors.Unreachable(
                    f"{what}: the TLS handshake with Phoenix at {self.url} failed "
                    f"({_reason(tls)}); is the URL's scheme right (http or https)?"
                ) from None
            raise errors.Unreachable(
                f"{what}: cannot connect to Phoenix at {self.url} ({_reason(exc)}); is it "
                "running? (set --url, PHOENIX_BASE_URL or PHOENIX_COLLECTOR_ENDPOINT)"
            ) from None
        except httpx.TransportError as exc:
            raise errors.Unreachable(
                f"{what}: the connection to Phoenix at {self.url} was lost ({_reason(exc)}); "
                "what Phoenix confirmed is kept, run again to continue"
            ) from None

    def error_for(self, response: Any, what: str) -> PhoenixError:
        status = response.status_code
        detail = _detail(response)
        where = f"Phoenix at {self.url}"
        if status == 401:
            hint = (
                "the API key was not accepted: check PHOENIX_API_KEY"
                if self.settings.has_api_key
                else "it needs an API key: set PHOENIX_API_KEY"
            )
            return errors.AuthError(f"{what}: {where} answered 401 Unauthorized ({hint})")
        if status == 403:
            return errors.AuthError(
                f"{what}: {where} answered 403 Forbidden (the API key lacks the permission; "
                "a member or admin key is needed to write)"
            )
        if status == 404 and detail.strip() in ("Not Found", ""):
            # FastAPI's answer for a route it does not have, not one of Phoenix's own 404s.
            version = self.version()
            return errors.VersionTooOld(
                f"{what}: {where} (version {version or 'unknown'}) has no "
                f"{response.request.method} {response.request.url.path}; annotator's Phoenix "
                f"sync needs a Phoenix with that endpoint (tested with {TESTED_VERSION})"
            )
        if status == 404:
            return errors.NotFound(f"{what}: {_one_line(detail)}")
        if status in RETRY_STATUSES:
            return errors.ServerError(
                f"{what}: {where} answered HTTP {status} "
                f"({self.settings.retries + 1} attempts): {_one_line(detail) or 'no detail'}"
            )
        return errors.Rejected(
            f"{what}: {where} rejected it (HTTP {status}): {_one_line(detail)}", status, detail
        )


def _detail(response: Any) -> str:
    """Phoenix's reason: a text/plain sentence, or FastAPI's JSON ``detail``."""
    try:
        text = response.text
    except Exception:
        return ""
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            return text
        detail = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):
            return "; ".join(_pydantic_item(item) for item in detail)
    return text


def _pydantic_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    message = item.get("msg", "")
    return f"{location}: {message}" if location else str(message)


def _ca_problem(exc: Exception) -> str:
    """The one line for a CA bundle setting httpx could not load."""
    import os

    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        if os.environ.get(name):
            return (
                f"{name}={os.environ[name]!r}: cannot load the CA certificates "
                f"({_reason(exc)}); point it at a PEM file of CA certificates, or unset it"
            )
    return f"cannot set up https certificate checks: {_reason(exc)}"


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a transport error (httpx wraps it), if that is what it was."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _reason(exc: Exception) -> str:
    text = _one_line(str(exc)) or type(exc).__name__
    return text


def _one_line(text: str, limit: int = 300) -> str:
    """Server text is untrusted: escape sequences and controls are shown, not sent."""
    from annotator.readers import one_line
    from annotator.text import sanitize

    return sanitize(one_line(text, limit))

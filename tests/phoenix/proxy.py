"""A small HTTP proxy on 127.0.0.1 in front of the test Phoenix, for injecting faults.

Each request is offered to the rules in order; the first that returns an action decides:
``None`` forwards it, ``Reply(status, body, headers)`` answers instead of Phoenix, ``DROP``
closes the connection without an answer, ``Delay(seconds)`` waits, then forwards.
Every request is recorded (method, path with query, headers, body).
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DROP = object()


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/plain"})


@dataclass
class Delay:
    seconds: float


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Rule = Callable[[Seen], object]


class FaultProxy:
    """`tls`: an `ssl.SSLContext` (server side) makes it an https front of the plain-http
    Phoenix, as a TLS-terminating load balancer would be."""

    def __init__(self, upstream: str, tls: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(upstream)
        self._host, self._port = parts.hostname, parts.port
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The status line and headers, then the body, are two writes: with Nagle's algorithm
            # the body waited for the client's delayed ACK of the headers (~40 ms) on every
            # request of a kept-alive connection, most of the wall time of a test through here.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                proxy.seen.append(seen)
                action = None
                for rule in list(proxy.rules):
                    action = rule(seen)
                    if action is not None:
                        break
                if action is DROP:
                    self.close_connection = True
                    self.connection.close()
                    return
                if isinstance(action, Reply):
                    self.send_response(action.status)
                    for key, value in action.headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(action.body)))
                    self.end_headers()
                    self.wfile.write(action.body)
                    return
                if isinstance(action, Delay):
                    time.sleep(action.seconds)
                upstream = http.client.HTTPConnection(proxy._host, proxy._port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                except OSError:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up (a timeout test) is not news

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        # serve_forever checks for shutdown between polls: at its default 0.5 s every test's
        # teardown waited up to half a second for the proxy to notice it should stop
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def times(self, count: int, action: object, match: Callable[[Seen], bool]) -> None:
        """Answer the first `count` matching requests with `action`, then let them through."""
        left = [count]

        def rule(seen: Seen) -> object:
            if left[0] > 0 and match(seen):
                left[0] -= 1
                return action
            return None

        self.rules.append(rule)

    def always(self, action: object, match: Callable[[Seen], bool]) -> None:
        self.rules.append(lambda seen: action if match(seen) else None)

    def count(self, match: Callable[[Seen], bool]) -> int:
        return sum(1 for seen in self.seen if match(seen))

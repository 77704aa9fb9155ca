"""What can go wrong talking to Phoenix, each as one exception whose message is one line a person
can act on (the CLI prints it and exits with code 2). No message ever holds the API key."""

from __future__ import annotations

INSTALL_HINT = "pip install 'annotator[phoenix]'"
# What annotator's Phoenix sync is tested against (the test suite's pinned server).
TESTED_VERSION = "20.26.1"


class PhoenixError(Exception):
    """Base class: anything that stops a pull or push."""


class MissingExtra(PhoenixError):
    """The optional Phoenix client is not installed."""

    def __init__(self, module: str) -> None:
        super().__init__(
            f"Phoenix sync needs the Phoenix client ({module} is not installed): {INSTALL_HINT}"
        )


class BadSettings(PhoenixError):
    """A URL or header setting that cannot be used."""


class Unreachable(PhoenixError):
    """Nothing answers at the URL, or the connection was lost mid-request."""


class Timeout(PhoenixError):
    """Phoenix did not answer in time (after the retries)."""


class AuthError(PhoenixError):
    """401 / 403: no key, a wrong key, or a key without the permission."""


class NotFound(PhoenixError):
    """404 for something named by the user (a project)."""


class Rejected(PhoenixError):
    """Phoenix refused a request (400 / 409 / 422) for a reason that retrying cannot change."""

    def __init__(self, message: str, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class ServerError(PhoenixError):
    """5xx that persisted through every retry."""


class VersionTooOld(PhoenixError):
    """The server lacks an endpoint or parameter annotator needs."""

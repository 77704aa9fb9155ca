"""annotator: keyboard-first human annotation of LLM traces, stored in SQLite."""


def __getattr__(name: str) -> str:
    # `__version__` is looked up when asked for (`annotator --version`), not on every import:
    # importlib.metadata costs ~30 ms, in every command and every process of the app.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("annotator")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found

"""`python -m tests.phoenix.cli ARGS` (from the repository's root): `annotator ARGS` in a process
of its own, with `phoenix` as a user of the ``phoenix`` extra has it (`client_only`).

`python -m annotator` here would import the Phoenix server's ``phoenix/__init__.py`` with the
client (the test extra installs the server): about 10 CPU-s per process, which no user pays.
"""

from tests.phoenix import client_only

client_only.use()

from annotator.cli import main  # noqa: E402  (after client_only.use())

main()

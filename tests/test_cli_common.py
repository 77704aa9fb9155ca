"""The command line's one way to refuse input (`annotator.cli.common`): `BadInput` sanitises its
message once, `bad_input_on` turns a core error into it, `friendly_errors` does so for the
errors of files and outputs every command shares."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from annotator.cli.common import BadInput, bad_input_on, friendly_errors
from annotator.output_file import EXIT_READER_GONE, OutputError, ReaderGone


def test_bad_input_message_is_sanitised_once_where_it_is_made() -> None:
    error = BadInput("bad \x1b]52;c;Zm9v\x07 value")
    assert error.message == "bad \\x1b]52;c;Zm9v\\x07 value"
    assert error.exit_code == 2
    assert BadInput(error.message).message == error.message  # idempotent


def test_bad_input_on_turns_only_the_named_errors_into_bad_input() -> None:
    with pytest.raises(BadInput) as caught, bad_input_on(KeyError, LookupError):
        raise LookupError("no such \x1b[31mthing")
    assert caught.value.message == "no such \\x1b[31mthing"
    with pytest.raises(TypeError), bad_input_on(LookupError):
        raise TypeError("a bug stays a bug")


def _command(error: Exception) -> click.Command:
    @click.command()
    @friendly_errors
    def command() -> None:
        raise error

    return command


def test_an_output_refused_is_one_line_and_exit_code_2() -> None:
    result = CliRunner().invoke(_command(OutputError("out.db: is a database; refused")))
    assert result.exit_code == 2
    assert result.output == "out.db: is a database; refused\n"


def test_a_reader_gone_ends_quietly_with_141() -> None:
    result = CliRunner().invoke(_command(ReaderGone()))
    assert result.exit_code == EXIT_READER_GONE == 141
    assert result.output == ""

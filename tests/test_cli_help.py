"""`chunkup serve --help`: every option described, with the default it falls back to."""

from __future__ import annotations

from typing import Any

import typer.main
from typer.testing import CliRunner

from chunkup.cli import app


def serve_options() -> list[Any]:
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    return [p for p in serve.params if p.param_type_name == "option" and p.name != "help"]


def test_every_serve_option_has_a_help_text_naming_its_variable_and_a_default():
    options = serve_options()
    assert {o.name for o in options} >= {"host", "port", "data_dir", "workers", "database_url"}
    for option in options:
        assert option.help and "(env CHUNKUP_" in option.help, option.name
        assert option.show_default not in (None, False), option.name


def test_serve_help_prints_the_defaults():
    shown = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    for default in ("127.0.0.1", "8000", "./chunkup-data", "the number of cores"):
        assert default in shown.output
    assert "CHUNKUP_HOST" in shown.output  # not eaten as markup

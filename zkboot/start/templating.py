"""The jinja2 environments the files zkboot writes are rendered in: zkboot's templates in
``zkboot/start/templates``, and a log configuration template of the user's own (in a sandbox: it
sees its variables, not Python's internals).

Undefined variables are errors (StrictUndefined), nothing is escaped (these are configuration files,
not HTML), block tags take their own line with them (trim_blocks, lstrip_blocks), and a template's
last newline is kept.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import jinja2.sandbox

TEMPLATES = Path(__file__).parent / "templates"
Env = TypeVar("Env", bound=jinja2.Environment)


def quoted(value: str) -> str:
    """A JAAS (and Java) string literal: double quotes, with backslash and double quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _new(kind: type[Env], **extra: Any) -> Env:
    return kind(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        **extra,
    )


@cache
def environment() -> jinja2.Environment:
    """For zkboot's own templates."""
    env = _new(jinja2.Environment, loader=jinja2.FileSystemLoader(TEMPLATES))
    env.filters["quoted"] = quoted
    return env


@cache
def sandbox() -> jinja2.sandbox.ImmutableSandboxedEnvironment:
    """For the user's templates."""
    return _new(jinja2.sandbox.ImmutableSandboxedEnvironment)


def fill(name: str, **values: object) -> str:
    """zkboot's template ``<name>.j2`` rendered with ``values``."""
    return environment().get_template(f"{name}.j2").render(values)

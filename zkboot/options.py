"""How an option is declared once: flag, environment variable(s), default, parser, help.

An option is a class attribute of the group that takes it: ``zkboot.settings.schema.Settings``
(what ``start``, ``render``, ``status``, ``shrink`` and the old ``start-zookeeper``/``zkGenConfig.sh``
take) and ``ProbeOptions`` below (what the probes and metrics take).  The declaration is the schema:
the typer CLI, the old commands' parser, the probes' parser, the help texts, the error messages and
docs/settings.md are all generated from it, and an option both groups take (the client port, the
admin port) is declared once and shared.

Values arrive as text from a flag or a variable and go through the same parser, so a bad value gets
the same one-line error whichever way it came in.  Precedence: flag > environment > default; an
empty variable counts as unset, as the old scripts' ``${VAR:-default}`` did.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar, overload

from zkboot.client.endpoint import TRANSPORTS
from zkboot.errors import UsageError

T = TypeVar("T")
METRICS_FORMATS = ("text", "prometheus", "json")


@dataclass(frozen=True, slots=True)
class Raw:
    """A value as given, with where it came from (``--client-port``, ``ZK_CLIENT_PORT``, ``default``)."""

    text: str
    source: str


Given = Mapping[str, str | Sequence[str] | Raw | None]  # option name -> what its flag said


class Invalid(Exception):
    """A value its parser refuses: the one-line problem, naming the source."""


def fail(raw: Raw, expected: str) -> Invalid:
    return Invalid(f"{raw.source}={raw.text!r}: expected {expected}")


# -- parsers: text -> value, or Invalid --------------------------------------------------------------


def int_in(low: int, high: int | None) -> Callable[[Raw], int]:
    expected = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"

    def parse(raw: Raw) -> int:
        text = raw.text.strip()
        digits = text[1:] if text[:1] in ("+", "-") else text
        if not (digits.isascii() and digits.isdigit()):
            raise fail(raw, expected)
        value = int(text)
        if value < low or (high is not None and value > high):
            raise fail(raw, expected)
        return value

    return parse


port = int_in(1, 65535)


def choice(options: Sequence[str], *, upper: bool = False) -> Callable[[Raw], str]:
    def parse(raw: Raw) -> str:
        text = raw.text.strip()
        text = text.upper() if upper else text.lower()
        if text not in options:
            raise fail(raw, "one of " + ", ".join(options))
        return text

    return parse


def seconds(raw: Raw) -> float:
    try:
        value = float(raw.text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        raise fail(raw, "seconds, more than 0 and at most 300")
    return value


def address(raw: Raw) -> str:
    text = raw.text.strip()
    if not text or any(ch.isspace() for ch in text):
        raise fail(raw, "a host name or address")
    return text


def existing_file(raw: Raw) -> str:
    if not os.path.isfile(raw.text):
        raise fail(raw, "an existing file")
    return raw.text


# -- the option and the groups ---------------------------------------------------------------------


class Option(Generic[T]):
    """One option: its names, its default (raw text; None = none, or derived by its group) and parser.

    ``flag`` is the kebab-case spelling (default: the attribute name with dashes); ``legacy`` marks
    the old ``start-zookeeper`` options, also spelled ``--<attribute_name>`` with underscores.
    """

    name: str

    def __init__(
        self,
        parse: Callable[[Raw], T],
        *,
        env: str | tuple[str, ...],
        default: str | None,
        help: str,
        flag: str | None = None,
        legacy: bool = False,
        repeatable: bool = False,
        metavar: str = "VALUE",
    ) -> None:
        self.parse = parse
        self.env = (env,) if isinstance(env, str) else env
        self.default = default
        self.help = help
        self.given_flag = flag
        self.legacy = legacy
        self.repeatable = repeatable
        self.metavar = metavar

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    # On the class, the option; on an instance, its value (kept in the instance's __dict__, which
    # shadows this non-data descriptor).
    @overload
    def __get__(self, obj: None, owner: type) -> Option[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object, owner: type) -> Any:
        if obj is None:
            return self
        raise AttributeError(self.name)

    def under(self, flag: str, help: str | None = None) -> Option[T]:
        """The same option (variables, default, parser) taken by another command as ``--flag``."""
        return Option(self.parse, env=self.env, default=self.default, help=help or self.help, flag=flag)

    @property
    def flag(self) -> str:
        return self.given_flag or self.name.replace("_", "-")

    @property
    def legacy_flag(self) -> str | None:
        return self.name if self.legacy else None

    @property
    def flags(self) -> tuple[str, ...]:
        names = ["--" + self.flag]
        if self.legacy_flag and self.legacy_flag != self.flag:
            names.append("--" + self.legacy_flag)
        return tuple(names)

    def label(self, legacy_spelling: bool = False) -> str:
        """How a message names this option when it was not given: its flag and first variable."""
        flag = self.legacy_flag if legacy_spelling and self.legacy_flag else self.flag
        return f"--{flag} / {self.env[0]}"

    def raws(self, given: str | Sequence[str] | Raw | None, environ: Mapping[str, str], flag_name: str) -> list[Raw]:
        """The texts to parse: the flag's (several for a repeatable one), else a variable's, else the default."""
        if isinstance(given, Raw):
            return [given]
        if isinstance(given, str):
            return [Raw(given, flag_name)]
        if given:
            return [Raw(text, flag_name) for text in given]
        for name in self.env:
            if environ.get(name, "").strip():
                return [Raw(environ[name], name)]
        return [] if self.default is None else [Raw(self.default, "default")]

    def value(self, raws: list[Raw]) -> T | None:
        """The parsed value (a repeatable option's parts joined), or None when nothing was given."""
        if self.repeatable:
            return tuple(item for raw in raws for item in self.parse(raw))  # type: ignore[attr-defined,return-value]
        return self.parse(raws[0]) if raws else None


class Group:
    """Values of a set of options, resolved together.  Subclasses declare their options as attributes."""

    sources: dict[str, str]  # option name -> where its value came from
    legacy_spelling: bool

    @classmethod
    def options(cls) -> Iterator[Option[Any]]:
        for name, value in vars(cls).items():
            if isinstance(value, Option) and not name.startswith("_"):
                yield value

    @classmethod
    def option(cls, name: str) -> Option[Any]:
        found = vars(cls).get(name)
        if not isinstance(found, Option):
            raise KeyError(name)
        return found

    @classmethod
    def parse_all(
        cls, given: Given, environ: Mapping[str, str], *, legacy_spelling: bool = False
    ) -> tuple[dict[str, Any], dict[str, str], list[str]]:
        """Every option's value and source, and every problem found (all of them, not only the first)."""
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        problems: list[str] = []
        known = {option.name for option in cls.options()}
        problems += [f"unknown option {name!r}" for name in sorted(set(given) - known)]
        for option in cls.options():
            spelled = option.legacy_flag if legacy_spelling and option.legacy_flag else option.flag
            raws = option.raws(given.get(option.name), environ, "--" + spelled)
            sources[option.name] = raws[0].source if raws else "default"
            try:
                values[option.name] = option.value(raws)
            except Invalid as exc:
                problems.append(str(exc))
                values[option.name] = None
        return values, sources, problems

    @classmethod
    def resolve(cls, given: Given, environ: Mapping[str, str]) -> Self:
        """The group's values (flag > environment > default); UsageError naming every bad value."""
        values, sources, problems = cls.parse_all(given, environ)
        if problems:
            raise UsageError(*problems)
        return cls(values, sources)

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str], legacy_spelling: bool = False) -> None:
        self.__dict__.update(values)
        self.sources = dict(sources)
        self.legacy_spelling = legacy_spelling

    def label(self, name: str) -> str:
        """How to name an option in a message: the source its value came from, else its flag and variable."""
        source = self.sources.get(name, "default")
        if source != "default":
            return source
        return type(self).option(name).label(self.legacy_spelling)

    def values(self) -> dict[str, Any]:
        return {option.name: self.__dict__.get(option.name) for option in type(self).options()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Group) and type(other) is type(self) and self.values() == other.values()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.values().items(), key=lambda item: item[0])))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.values().items())})"


CLIENT_PORT = Option(port, env="ZK_CLIENT_PORT", default="2181", help="client port", legacy=True)
ADMIN_PORT = Option(port, env="ZK_ADMIN_PORT", default="8080", help="the admin server's port")


class ProbeOptions(Group):
    """How the probes, metrics and status reach the server on this pod."""

    host = Option(
        address,
        env="ZK_PROBE_HOST",
        default="127.0.0.1",
        help="the server's address (not localhost: it may resolve to ::1 first)",
    )
    port = CLIENT_PORT.under("port", help="client port (the secureClientPort with --transport tls)")
    timeout = Option(
        seconds,
        env="ZK_PROBE_TIMEOUT",
        default="0.8",
        help="seconds for the whole exchange, inside Kubernetes' default 1 s timeoutSeconds",
    )
    transport = Option(
        choice(TRANSPORTS),
        env="ZK_PROBE_TRANSPORT",
        default="tcp",
        help="tcp (four-letter words), tls, or http (the admin server)",
    )
    admin_port = ADMIN_PORT.under("admin-port", help="the admin server's port (with --transport http)")
    tls_ca = Option(
        existing_file, env="ZK_PROBE_TLS_CA", default=None, help="CA bundle; the server's chain is verified when given"
    )
    tls_cert = Option(
        existing_file, env="ZK_PROBE_TLS_CERT", default=None, help="client certificate, for servers that require one"
    )
    tls_key = Option(existing_file, env="ZK_PROBE_TLS_KEY", default=None, help="its key")
    format = Option(
        choice(METRICS_FORMATS),
        env="ZK_METRICS_FORMAT",
        default="text",
        help="text, prometheus or json (metrics only)",
    )


def describe(options: Iterator[Option[Any]] | Sequence[Option[Any]], *, legacy_spelling: bool = False) -> str:
    """The options as a usage table: flag, variable, default, help."""
    lines = []
    for option in options:
        flag = option.legacy_flag if legacy_spelling and option.legacy_flag else option.flag
        default = "derived" if option.default is None and option.legacy else (option.default or "none")
        lines.append(f"  --{flag}={option.metavar}  ({', '.join(option.env)}, default {default})  {option.help}")
    return "\n".join(lines)

"""ZooKeeper's log configuration: which one the installation reads, and its text.

log4j 1.x properties for ZooKeeper 3.4-3.7 and Debian's package, logback XML for upstream 3.8+;
without an installation (``render`` on a laptop) both.  Either logs everything to the console
(``kubectl logs``) at the level of the log_level setting.

The text comes from zkboot's template for the backend, or from a template of the user's own
(``--log-template`` / ``ZK_LOG_TEMPLATE``), rendered with the same variables (``VARIABLES``).  It
is rendered while the start is planned: it depends on nothing the membership step decides, and a
template that fails must fail before any peer is asked or anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping

import jinja2

from zkboot import __version__
from zkboot.errors import EnvironmentProblem
from zkboot.identity import Identity
from zkboot.installation import Installation
from zkboot.settings.schema import Settings
from zkboot.start.templating import fill, sandbox

LOG_PATTERN = "%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n"
FILE_NAMES = {"log4j": "log4j.properties", "logback": "logback.xml"}
LOGBACK_LEVELS = {"FATAL": "ERROR"}  # logback has no FATAL; ERROR is the closest it logs
# The variables a log configuration template is rendered with.
VARIABLES = {
    "backend": "log4j or logback: the configuration being rendered",
    "level": "the log_level setting, as that backend spells it (logback has no FATAL: ERROR)",
    "pattern": f"zkboot's layout pattern: {LOG_PATTERN}",
    "log_dir": "the log_dir setting (ZooKeeper's zookeeper.log.dir)",
    "myid": "this member's myid",
    "hostname": "this pod's short hostname",
    "fqdn": "this pod's fully qualified name",
    "version": "zkboot's version",
}


def backends(settings: Settings, installation: Installation | None) -> tuple[str, ...]:
    """Which log configuration(s) to write: the setting, else the installation's, else both."""
    if settings.log_backend != "auto":
        return (settings.log_backend,)
    if installation is not None:
        return (installation.log_backend,)
    return ("log4j", "logback")


def render(settings: Settings, identity: Identity, installation: Installation | None) -> dict[str, str]:
    """backend -> the log configuration's text, from the user's template or zkboot's."""
    own = _user_template(settings) if settings.log_template else None
    texts = {}
    for backend in backends(settings, installation):
        values = variables(settings, identity, backend)
        if own is None:
            texts[backend] = fill(FILE_NAMES[backend], **values)
            continue
        try:
            texts[backend] = own.render(values)
        except Exception as exc:  # the template is the user's code: any failure of it is reported as its own
            raise EnvironmentProblem(
                f"{_label(settings)}: cannot render it for {backend} ({type(exc).__name__}: {exc}); expected only "
                f"the variables {', '.join(VARIABLES)}"
            ) from None
    return texts


def variables(settings: Settings, identity: Identity, backend: str) -> Mapping[str, object]:
    level = settings.log_level
    if backend == "logback":
        level = LOGBACK_LEVELS.get(level, level)
    return {
        "backend": backend,
        "level": level,
        "pattern": LOG_PATTERN,
        "log_dir": settings.log_dir,
        "myid": identity.myid,
        "hostname": identity.hostname,
        "fqdn": identity.fqdn,
        "version": __version__,
    }


def _label(settings: Settings) -> str:
    return f"{settings.label('log_template')}={settings.log_template}"


def _user_template(settings: Settings) -> jinja2.Template:
    assert settings.log_template is not None
    try:
        with open(settings.log_template, encoding="utf-8") as handle:
            source = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise EnvironmentProblem(f"{_label(settings)}: cannot read ({reason}); expected a readable template") from None
    try:
        return sandbox().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise EnvironmentProblem(
            f"{_label(settings)}: line {exc.lineno}: {exc.message}; expected a jinja2 template"
        ) from None

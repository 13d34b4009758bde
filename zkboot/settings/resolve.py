"""Resolving the start settings as a whole: derived defaults (the session timeouts) and the checks
that relate settings to each other (distinct ports, min <= max, ``--set`` keys zkboot writes itself,
what TLS, SASL and dynamic membership need).  Every problem found is reported in one run, one line each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zkboot.errors import UsageError
from zkboot.settings.cfgkeys import acl_off, managed_key_problems
from zkboot.settings.schema import Settings
from zkboot.settings.values import JAVA_INT_MAX

FlagValues = Mapping[str, str | Sequence[str] | None]


def resolve(flags: FlagValues, environ: Mapping[str, str], *, legacy_spelling: bool = False) -> Settings:
    """Every setting, parsed and validated; UsageError listing every problem otherwise.

    ``flags`` maps a setting name to the flag's text (a list of texts for a repeatable setting),
    None or absence meaning "not given".  Messages name flags in the old underscore spelling when
    ``legacy_spelling`` (the old commands), else in kebab-case.
    """
    values, sources, problems = Settings.parse_all(flags, environ, legacy_spelling=legacy_spelling)
    tick = values["tick_time"]
    if tick is not None:
        values["min_session_timeout"] = values["min_session_timeout"] or 2 * tick
        values["max_session_timeout"] = values["max_session_timeout"] or 20 * tick
    settings = Settings(values, sources, legacy_spelling)
    if not problems:  # relations between values only once every value parsed
        problems += _relations(settings)
    if problems:
        raise UsageError(*problems)
    return settings


def _relations(settings: Settings) -> list[str]:
    problems = []
    ports = [("client_port", settings.client_port)]
    if settings.servers > 1:
        ports += [("server_port", settings.server_port), ("election_port", settings.election_port)]
    if settings.admin_server:
        ports.append(("admin_port", settings.admin_port))
    if settings.secure_client_port is not None:
        ports.append(("secure_client_port", settings.secure_client_port))
    if settings.metrics_port is not None:
        ports.append(("metrics_port", settings.metrics_port))
    seen: dict[int, str] = {}
    for name, number in ports:
        if number in seen:
            other = settings.label(seen[number])
            problems.append(f"{settings.label(name)}={number}: the same port as {other}; expected distinct ports")
        seen.setdefault(number, name)
    if settings.min_session_timeout > settings.max_session_timeout:
        problems.append(
            f"{settings.label('min_session_timeout')}={settings.min_session_timeout} is greater than "
            f"{settings.label('max_session_timeout')}={settings.max_session_timeout}; expected min <= max"
        )
    if settings.max_session_timeout > JAVA_INT_MAX:
        problems.append(
            f"{settings.label('max_session_timeout')}={settings.max_session_timeout}: "
            f"expected at most {JAVA_INT_MAX} (lower the tick time or set it explicitly)"
        )
    problems += managed_key_problems(settings.extra, settings.label("extra"), setting_label, security_in_use(settings))
    if settings.secure_client_port is not None and not settings.tls_dir:
        problems.append(
            f"{settings.label('secure_client_port')}={settings.secure_client_port} needs {settings.label('tls_dir')}: "
            "expected the dir of the server's tls.crt, tls.key and ca.crt"
        )
    if settings.quorum_tls_files is None and (settings.quorum_tls or settings.port_unification):
        which = "quorum_tls" if settings.quorum_tls else "port_unification"
        problems.append(
            f"{settings.label(which)}=on needs {settings.label('quorum_tls_dir')} or {settings.label('tls_dir')}: "
            "expected the dir of the member's tls.crt, tls.key and ca.crt"
        )
    if settings.plain_client_port == "loopback" and settings.secure_client_port is None and settings.servers > 1:
        problems.append(
            f"{settings.label('plain_client_port')}=loopback without {settings.label('secure_client_port')}: "
            "the members could not reach each other's client port; expected a secure client port too"
        )
    if settings.membership == "dynamic" and not settings.super_password_file:
        problems.append(
            f"{settings.label('membership')}=dynamic needs {settings.label('super_password_file')}: "
            "expected the file of the super user's password (reconfiguration is for the super user only)"
        )
    if settings.membership == "dynamic":
        for entry in acl_off(settings.extra):
            problems.append(
                f"{settings.label('extra')}: {entry} turns every ACL check off, and with "
                f"{settings.label('membership')}=dynamic any client could reconfigure the ensemble; "
                "expected skipACL=no or none (reconfiguration is the super user's)"
            )
    return problems


def security_in_use(settings: Settings) -> frozenset[str]:
    """The TLS, SASL and metrics settings in effect, whose zoo.cfg keys zkboot then writes itself."""
    used = set()
    if settings.secure_client_port is not None:
        used.add("secure_client_port")
    if settings.plain_loopback:
        used.add("plain_client_port")
    if settings.quorum_tls_files is not None:
        used.add("quorum_tls")
    if settings.quorum_sasl_dir:
        used.add("quorum_sasl")
    if settings.client_sasl_dir:
        used.add("client_sasl")
    if settings.super_password_file:
        used.add("super_sasl")
    if settings.metrics_port is not None:
        used.add("metrics_port")
    return frozenset(used)


def setting_label(name: str) -> str:
    """``--tick-time / ZK_TICK_TIME``: how a message tells the user to set a setting."""
    label: str = Settings.option(name).label()
    return label

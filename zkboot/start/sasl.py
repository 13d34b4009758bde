"""SASL DIGEST-MD5 from mounted Secrets: between members, and for clients; the JAAS file and zoo.cfg.

Each Secret's dir holds ``username`` and ``password``.  The quorum's is one account the whole
ensemble shares: each member proves it to the others as a learner, and checks it as the server.
The clients' is the account the server lets in (``sessionRequireClientSASLAuth`` refuses every
session without it, ZooKeeper 3.6+), and the one zkboot's own sessions use (the dynamic join,
``shrink``, ``status``: kazoo with pure-sasl).  zkboot writes the JAAS
login configuration at every start, in the conf dir, mode 0600, and passes the JVM only its path
(``-Djava.security.auth.login.config``), so the password is in no argv, environment or zoo.cfg;
``render`` shows the file with the password masked.

ZooKeeper's DigestLoginModule reads ``user_<name>="<password>"`` (the server side: who may connect)
and ``username``/``password`` (the learner side: who this member is).  JAAS values are quoted
strings, so a backslash or a double quote in the password is escaped; a user name is restricted to
characters the option name ``user_<name>`` can carry.
"""

from __future__ import annotations

from pathlib import Path

from zkboot.errors import EnvironmentProblem
from zkboot.record import Record

JAAS_NAME = "jaas.conf"  # in the conf dir
LOGIN_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"
SERVER_CONTEXT, LEARNER_CONTEXT = "QuorumServer", "QuorumLearner"
CLIENT_CONTEXT = "Server"  # ZooKeeper's name for the section that checks clients
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
REQUIRE_SINCE = "3.6.0"  # sessionRequireClientSASLAuth
USER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
MASKED = "<masked>"
SASL_SINCE = "3.4.10"  # quorum.auth.*
FIPS_SINCE = "3.9.0"  # FIPS mode on by default, and DIGEST-MD5 is not a FIPS mechanism


class Account(Record):
    __slots__ = ("password", "username")
    hidden = frozenset({"password"})
    username: str
    password: str

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password


def read_account(label: str, directory: str, whose: str = "quorum's") -> Account:
    """``username`` and ``password`` from the Secret's dir; EnvironmentProblem naming the file."""
    values = {}
    for name in ("username", "password"):
        path = Path(directory) / name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            problem = f"{label}: {path}: cannot read ({reason}); expected the {whose} {name}"
            raise EnvironmentProblem(problem) from None
        values[name] = text.strip("\r\n")
    username, password = values["username"], values["password"]
    if not username or not set(username) <= USER_CHARS:
        raise EnvironmentProblem(
            f"{label}: {Path(directory) / 'username'} holds {username!r}; expected a user name of letters, "
            "digits, '.', '_' or '-'"
        )
    if not password or any(ch in password for ch in "\r\n\x00"):
        raise EnvironmentProblem(f"{label}: {Path(directory) / 'password'} is empty or spans lines; expected one line")
    return Account(username, password)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def jaas(quorum: Account | None, client: Account | None = None, masked: bool = False) -> str:
    """The JAAS login configuration of a member: the quorum's account (server and learner sides)
    and the account clients authenticate as (``masked``: passwords shown as MASKED)."""

    def secret(account: Account) -> str:
        return MASKED if masked else _quoted(account.password)

    text = "// Written by zkboot on every start; edits here are lost.\n"
    if client is not None:
        text += f"{CLIENT_CONTEXT} {{\n    {LOGIN_MODULE} required\n    user_{client.username}={secret(client)};\n}};\n"
    if quorum is not None:
        text += (
            f"{SERVER_CONTEXT} {{\n    {LOGIN_MODULE} required\n    user_{quorum.username}={secret(quorum)};\n}};\n"
            f"{LEARNER_CONTEXT} {{\n    {LOGIN_MODULE} required\n"
            f"    username={_quoted(quorum.username)}\n    password={secret(quorum)};\n}};\n"
        )
    return text


def client_entries(require: bool) -> list[tuple[str, str]]:
    """zoo.cfg's entries for SASL clients; ``require``: refuse sessions without SASL (3.6+)."""
    entries = [("authProvider.sasl", SASL_PROVIDER)]
    if require:
        entries.append(("sessionRequireClientSASLAuth", "true"))
    return entries


def quorum_entries(require: bool) -> list[tuple[str, str]]:
    """zoo.cfg's quorum.auth.* entries; ``require`` False only while an ensemble is rolled to SASL."""
    flag = "true" if require else "false"
    return [
        ("quorum.auth.enableSasl", "true"),
        ("quorum.auth.learnerRequireSasl", flag),
        ("quorum.auth.serverRequireSasl", flag),
        ("quorum.auth.learner.saslLoginContext", LEARNER_CONTEXT),
        ("quorum.auth.server.saslLoginContext", SERVER_CONTEXT),
    ]

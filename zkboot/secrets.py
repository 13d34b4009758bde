"""The secrets zkboot reads from mounted Secrets: the super user's password and SASL accounts.

A Secret's files are read at the edge, once, and checked: each problem is one line naming the
setting and the file.  A password never reaches argv, the environment, a repr or an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from zkboot.errors import EnvironmentProblem

USER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


@dataclass(frozen=True, slots=True)
class Account:
    """A SASL account from a Secret's ``username`` and ``password`` files."""

    username: str
    password: str = field(repr=False)


def read_account(label: str, directory: str, whose: str = "quorum's") -> Account:
    """``username`` and ``password`` from the Secret's dir; EnvironmentProblem naming the file.

    The user name is restricted to characters ZooKeeper's JAAS option ``user_<name>`` can carry.
    """
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


class UnreadableSecret(EnvironmentProblem):
    """A Secret's file that cannot be read; ``seen`` is the problem without what was expected
    (``render`` goes on with a warning that says what it shows instead)."""

    def __init__(self, seen: str, expected: str) -> None:
        super().__init__(f"{seen}; expected {expected}")
        self.seen = seen


def read_password(label: str, path: str) -> str:
    """The super user's password from its file (a mounted Secret), stripped of surrounding white space."""
    try:
        password = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        seen = f"{label}={path}: cannot read ({reason})"
        raise UnreadableSecret(seen, "a readable file holding the password") from None
    if not password:
        raise EnvironmentProblem(f"{label}={path} is empty; expected the password")
    return password

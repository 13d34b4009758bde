"""Every failure zkboot reports: one class per kind of failure, in one small hierarchy.

An error is one line (or one line per problem) that names the setting or path, what was seen and
what was expected; the front ends print it and exit with ``exit_code``, never with a traceback.
Callers tell failures apart by their class (and a query's ``kind``), never by their text.
"""


class ZkbootError(Exception):
    """A failure to report as one line per problem; ``exit_code`` says whose fault it is."""

    exit_code = 1

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UsageError(ZkbootError):
    """Bad flags, bad environment values, bad settings: the caller must change the input."""

    exit_code = 2


class EnvironmentProblem(ZkbootError):
    """The machine is not as needed (unwritable dir, myid mismatch, no ZooKeeper)."""

    exit_code = 1


class Kind:
    """Why a server gave no usable answer, as the probes print it: ``not ready (<kind>): ...``."""

    REFUSED = "refused"
    TIMED_OUT = "timed out"
    NOT_WHITELISTED = "not in the 4lw whitelist"
    NOT_SERVING = "not serving"
    UNEXPECTED = "unexpected reply"
    UNREACHABLE = "unreachable"


class QueryError(ZkbootError):
    """No usable answer from a server; ``kind`` is one of ``Kind``, ``detail`` says the rest."""

    exit_code = 1

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class FourLetterError(QueryError):
    """A four-letter word (plain or TLS) got no usable answer."""


class AdminError(QueryError):
    """The admin server's HTTP ``/commands/<name>`` got no usable answer."""


class SessionError(QueryError):
    """A ZooKeeper session (kazoo) could not be had, or its request got no usable answer."""


class NotAuthorized(SessionError):
    """The server refused a request for want of rights (ZooKeeper's NoAuth): a wrong super password."""


class ForeignMembership(EnvironmentProblem):
    """A membership (a peer's, or the one on the volume) lists a server that is not a pod of this
    StatefulSet as zkboot would write it, or was served by something that is not one: refused."""

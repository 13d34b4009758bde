"""Ask one ZooKeeper server about itself, over four-letter words (plain or TLS) or the admin server.

``Endpoint.ruok()``, ``.srvr()`` and ``.mntr()`` give the same answers whichever transport is
chosen, so the probes, metrics and status never care how the server was reached:
- ``tcp``: four-letter words on the client port (needs them in ``4lw.commands.whitelist``);
- ``tls``: the same on a ``secureClientPort``, with the usual CA/cert/key;
- ``http``: the admin server's ``/commands/ruok``, ``/commands/srvr`` and ``/commands/mntr``,
  for servers with four-letter words disabled.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zkboot.client.fourlw import NOT_SERVING_TEXT, ask
from zkboot.errors import AdminError, FourLetterError, Kind

if TYPE_CHECKING:
    import ssl

TRANSPORTS = ("tcp", "tls", "http")
TEXT_LIMIT = 40  # characters of a peer's free text (its mode, its version) kept
SERVING_MODES = ("leader", "follower", "observer", "standalone")


@dataclass(frozen=True, slots=True)
class Srvr:
    """What ``srvr`` says: mode, zxid, latency, connections, outstanding requests."""

    mode: str
    zxid: int
    latency_avg: float
    connections: int
    outstanding: int
    version: str

    @property
    def serving(self) -> bool:
        return self.mode in SERVING_MODES

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "zxid": f"{self.zxid:#x}",
            "latency_avg_ms": self.latency_avg,
            "connections": self.connections,
            "outstanding": self.outstanding,
            "version": self.version,
        }


def printable(text: str, limit: int = TEXT_LIMIT) -> str:
    """A peer's text as it may be shown: control characters (a terminal's escapes) written as
    Python escapes, and cut at ``limit`` characters."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")


def parse_srvr(text: str) -> Srvr:
    """Parse the text reply of ``srvr`` (or ``stat``); UNEXPECTED when it is not one."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if "Mode" not in fields:
        raise FourLetterError(Kind.UNEXPECTED, f"unexpected srvr reply {text[:60]!r}")
    # The peer's own words are kept escaped: status prints them on the operator's terminal.
    try:
        latency = fields.get("Latency min/avg/max", "0/0/0").split("/")
        return Srvr(
            mode=printable(fields["Mode"]),
            zxid=int(fields.get("Zxid", "0x0"), 16),
            latency_avg=float(latency[1]),
            connections=int(fields.get("Connections", "0")),
            outstanding=int(fields.get("Outstanding", "0")),
            version=printable(fields.get("Zookeeper version", "").split(",")[0].split("-")[0]),
        )
    except (ValueError, IndexError):
        raise FourLetterError(Kind.UNEXPECTED, f"unexpected srvr reply {text[:60]!r}") from None


def parse_mntr(text: str) -> dict[str, str]:
    """``mntr``'s tab-separated ``key value`` lines, in order."""
    metrics: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        if sep and key:
            metrics[key.strip()] = value.strip()
    if not metrics:
        raise FourLetterError(Kind.UNEXPECTED, f"unexpected mntr reply {text[:60]!r}")
    return metrics


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One server, reached one way, with one deadline per question."""

    host: str = "127.0.0.1"
    port: int = 2181
    timeout: float = 1.0
    transport: str = "tcp"
    admin_port: int = 8080
    tls: ssl.SSLContext | None = None

    def at(self, host: str) -> Endpoint:
        """The same question asked of another server."""
        return dataclasses.replace(self, host=host)

    @property
    def address(self) -> str:
        port = self.admin_port if self.transport == "http" else self.port
        return f"{self.host}:{port}"

    def ruok(self) -> str:
        """``imok`` from a live server.

        Over http any JSON answer of the admin server counts as that, including "not currently
        serving requests": the admin server runs inside the JVM, so an answer at all means the
        process is alive, and a member that lost its quorum must stay live (a restart cannot help).
        """
        if self.transport == "http":
            try:
                self._admin("ruok")
            except AdminError as exc:
                if exc.kind != Kind.NOT_SERVING:
                    raise
            return "imok"
        return self._ask("ruok").strip()

    def srvr(self) -> Srvr:
        if self.transport != "http":
            return parse_srvr(self._ask("srvr"))
        document = self._admin("srvr")
        stats = document.get("server_stats")
        if not isinstance(stats, dict) or "server_state" not in stats:
            raise AdminError(Kind.UNEXPECTED, f"unexpected admin srvr reply from {self.address}")
        return Srvr(
            mode=printable(str(stats["server_state"])),
            zxid=int(stats.get("last_processed_zxid", 0)),
            latency_avg=float(stats.get("avg_latency", 0.0)),
            connections=int(stats.get("num_alive_client_connections", 0)),
            outstanding=int(stats.get("outstanding_requests", 0)),
            version=printable(str(document.get("version", "")).split(",")[0].split("-")[0]),
        )

    def mntr(self) -> dict[str, str]:
        """``mntr`` as text key/value pairs (the admin server's JSON flattened to the same names)."""
        if self.transport != "http":
            return parse_mntr(self._ask("mntr"))
        document = self._admin("mntr")
        return {
            f"zk_{key}": _text(value)
            for key, value in document.items()
            if key not in ("command", "error") and not isinstance(value, (dict, list))
        }

    def _ask(self, command: str) -> str:
        return ask(command, self.host, self.port, self.timeout, self.tls if self.transport == "tls" else None)

    def _admin(self, command: str) -> dict[str, object]:
        from zkboot.client.admin import get_command  # only the http transport needs HTTP and JSON

        document = get_command(self.host, self.admin_port, command, self.timeout)
        error = document.get("error")
        if error:
            if NOT_SERVING_TEXT in str(error):
                raise AdminError(Kind.NOT_SERVING, f"{self.address} is not serving requests")
            raise AdminError(Kind.UNEXPECTED, f"{self.address}: {printable(str(error), 200)}")
        return document


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def tls_context(ca: str | None, cert: str | None, key: str | None, check_name: bool = False) -> ssl.SSLContext:
    """A client context: the CA's chain is verified when given; with ``check_name`` (and a CA) the
    certificate must also name the host dialled (another member, by its pod name).  The probes'
    context checks no name: they dial 127.0.0.1, which no member's certificate names."""
    import ssl  # only the tls transport needs it

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    if ca:
        context.load_verify_locations(cafile=ca)
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = check_name
    else:
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(certfile=cert, keyfile=key)
    return context

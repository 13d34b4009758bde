"""Fault-injecting fake ZooKeeper servers, for tests only.

Each fake listens on 127.0.0.1 (or another loopback address) on an ephemeral port, serves from
background threads, and is a context manager that stops it: the listener and every open
connection are closed and every thread is joined with a bounded timeout.

    with NeverAnswers() as fake:
        ask("ruok", port=fake.port, timeout=0.5)   # FourLetterError(TIMED_OUT)

Four-letter-word fakes (``FakeServer`` and subclasses) read the command the way ZooKeeper does
(the first four bytes, or up to EOF) and then misbehave as their name says.  ``FakeAdmin`` is
ZooKeeper's admin server (``/commands/<name>`` answering JSON), on ``http.server``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

JOIN_TIMEOUT = 2.0  # seconds to wait for any one thread when a fake stops
READ_TIMEOUT = 2.0  # seconds a fake waits for the client's command

SRVR_TEXT = (
    "Zookeeper version: 3.8.0-abc, built on 2024-12-29 17:54 UTC\n"
    "Latency min/avg/max: 0/0.0/0\n"
    "Received: 3\n"
    "Sent: 2\n"
    "Connections: 1\n"
    "Outstanding: 0\n"
    "Zxid: 0x100000004\n"
    "Mode: follower\n"
    "Node count: 5\n"
)

MNTR_TEXT = (
    "zk_version\t3.8.0-abc, built on 2024-12-29 17:54 UTC\n"
    "zk_server_state\tleader\n"
    "zk_peer_state\tleading - broadcast\n"
    "zk_avg_latency\t0.5\n"
    "zk_max_latency\t12\n"
    "zk_min_latency\t0\n"
    "zk_packets_received\t1234\n"
    "zk_packets_sent\t1233\n"
    "zk_num_alive_connections\t1\n"
    "zk_outstanding_requests\t0\n"
    "zk_znode_count\t5\n"
    "zk_watch_count\t0\n"
    "zk_ephemerals_count\t0\n"
    "zk_approximate_data_size\t44\n"
    "zk_open_file_descriptor_count\t61\n"
    "zk_max_file_descriptor_count\t1048576\n"
    "zk_followers\t2\n"
    "zk_synced_followers\t2\n"
    "zk_pending_syncs\t0\n"
    "zk_last_proposal_size\t-1\n"
    "zk_uptime\t86400123\n"
)

NOT_SERVING_REPLY = "This ZooKeeper instance is not currently serving requests\n"


def srvr_text(mode: str = "follower", zxid: int = 0x100000004) -> str:
    """SRVR_TEXT with another mode and zxid."""
    return SRVR_TEXT.replace("Mode: follower", f"Mode: {mode}").replace("Zxid: 0x100000004", f"Zxid: {zxid:#x}")


def read_command(conn: socket.socket, timeout: float = READ_TIMEOUT, until_eof: bool = False) -> str:
    """What the client sent: its first four bytes (as ZooKeeper reads them), or all of it up to its
    half-close with ``until_eof``; whatever arrived when the client stops sending or time runs out."""
    conn.settimeout(timeout)
    data = b""
    try:
        while until_eof or len(data) < 4:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data.decode("ascii", errors="replace").strip()


class FakeServer:
    """A TCP server on loopback that gives each connection to ``handle`` in its own thread.

    ``connections`` counts accepted connections; ``commands`` lists what subclasses read.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError:
            self._listener.close()
            raise
        self._listener.listen(16)
        self._listener.settimeout(0.1)  # the accept loop checks for stop at least this often
        self.port: int = self._listener.getsockname()[1]
        self.stopping = threading.Event()
        self.connections = 0
        self.commands: list[str] = []
        self.tls: ssl.SSLContext | None = None  # set: each connection is served behind TLS
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"{type(self).__name__}-accept", daemon=True)

    def start(self) -> Self:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):  # wakes the accept at once on Linux; else its timeout does
            self._listener.shutdown(socket.SHUT_RDWR)
        if self._acceptor.is_alive():
            self._acceptor.join(JOIN_TIMEOUT)
        self._listener.close()
        with self._lock:
            conns, threads = list(self._open), list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        for thread in threads:
            thread.join(JOIN_TIMEOUT)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                index = self.connections
            if self.at_accept(conn, index):
                conn.close()
                continue
            with self._lock:
                self._open.append(conn)
                thread = threading.Thread(target=self._serve, args=(conn, index), daemon=True)
                self._threads.append(thread)
            thread.start()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def _serve(self, conn: socket.socket, index: int) -> None:
        try:
            if self.tls is not None:
                conn.settimeout(READ_TIMEOUT)
                conn = self.tls.wrap_socket(conn, server_side=True)
            self.handle(conn, index)
        except OSError:
            pass
        finally:
            with self._lock:
                if conn in self._open:
                    self._open.remove(conn)
            conn.close()

    def read(self, conn: socket.socket, until_eof: bool = False) -> str:
        command = read_command(conn, until_eof=until_eof)
        with self._lock:
            self.commands.append(command)
        return command

    def at_accept(self, conn: socket.socket, index: int) -> bool:
        """Called in the accepting thread, as early as can be; True: done with ``conn`` (it is closed)."""
        return False

    def handle(self, conn: socket.socket, index: int) -> None:
        """Serve connection number ``index`` (from 1); the connection is closed afterwards."""
        raise NotImplementedError


class NeverAnswers(FakeServer):
    """Accepts, and holds the connection open without a word until the fake stops."""

    def handle(self, conn: socket.socket, index: int) -> None:
        self.stopping.wait()


class Canned(FakeServer):
    """Answers each command from ``replies`` (ZooKeeper's own replies by default: imok, SRVR_TEXT,
    MNTR_TEXT); closes without a reply to a command it has no answer for."""

    def __init__(self, replies: Mapping[str, str | bytes] | None = None, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.replies = dict(replies) if replies is not None else {"ruok": "imok", "srvr": SRVR_TEXT, "mntr": MNTR_TEXT}

    def reply(self, command: str) -> bytes | None:
        answer = self.replies.get(command)
        return answer.encode() if isinstance(answer, str) else answer

    def handle(self, conn: socket.socket, index: int) -> None:
        answer = self.reply(self.read(conn))
        if answer is not None:
            conn.sendall(answer)


class Slow(Canned):
    """Sleeps ``delay`` seconds after reading the command, then answers as Canned."""

    def __init__(self, delay: float, replies: Mapping[str, str | bytes] | None = None) -> None:
        super().__init__(replies)
        self.delay = delay

    def handle(self, conn: socket.socket, index: int) -> None:
        answer = self.reply(self.read(conn))
        if self.stopping.wait(self.delay):
            return
        if answer is not None:
            conn.sendall(answer)


class ClosesAtOnce(FakeServer):
    """Closes every connection without a reply: after reading the command (a clean FIN), or with
    ``unread=True`` as soon as it is accepted (the kernel may then send a reset for the unread bytes)."""

    def __init__(self, unread: bool = False) -> None:
        super().__init__()
        self.unread = unread

    def handle(self, conn: socket.socket, index: int) -> None:
        if not self.unread:
            self.read(conn)


class NotWhitelisted(FakeServer):
    """Answers as ZooKeeper does a command missing from ``4lw.commands.whitelist``."""

    def handle(self, conn: socket.socket, index: int) -> None:
        command = self.read(conn)
        conn.sendall(f"{command} is not executed because it is not in the whitelist.\n".encode())


class NotServing(Canned):
    """A ZooKeeper without quorum: imok to ruok, 'not currently serving requests' to the rest."""

    def __init__(self) -> None:
        super().__init__({"ruok": "imok"})

    def reply(self, command: str) -> bytes | None:
        return b"imok" if command == "ruok" else NOT_SERVING_REPLY.encode()


class Garbage(FakeServer):
    """Answers every command with bytes that mean nothing."""

    REPLY = b"\x00\x01\xfe\xff\x80garbage\x1b[0m\xc3"

    def handle(self, conn: socket.socket, index: int) -> None:
        self.read(conn)
        conn.sendall(self.REPLY)


class ResetsFirst(Canned):
    """Resets (SO_LINGER 0, so an RST and no FIN) the first ``resets`` connections, after the client
    sent its command and half-closed; answers later ones as Canned."""

    def __init__(self, resets: int = 1, replies: Mapping[str, str | bytes] | None = None) -> None:
        super().__init__(replies)
        self.resets = resets

    def handle(self, conn: socket.socket, index: int) -> None:
        if index > self.resets:
            super().handle(conn, index)
            return
        # Up to the client's EOF: it is then waiting in recv, where the reset lands.
        self.read(conn, until_eof=True)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class ResetsAlternate(Canned):
    """Resets every odd-numbered connection the moment it is accepted, before reading anything (as
    ZooKeeper may while it starts up), and answers the even-numbered ones as Canned: each client
    that retries once after a reset gets its answer on its second connection."""

    def at_accept(self, conn: socket.socket, index: int) -> bool:
        if index % 2 == 0:
            return False
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return True


class Dribbles(FakeServer):
    """Sends ``data`` one byte every ``interval`` seconds, for at most ``limit`` seconds, then closes:
    each read gets something long before any per-read timeout, the whole never ends in time."""

    def __init__(self, data: bytes, interval: float = 0.1, limit: float = 3.0) -> None:
        super().__init__()
        self.data, self.interval, self.limit = data, interval, limit

    def handle(self, conn: socket.socket, index: int) -> None:
        conn.settimeout(0.2)
        with contextlib.suppress(OSError):  # an HTTP request, or a four-letter word: whatever is there
            conn.recv(4096)
        steps = int(self.limit / self.interval)
        for byte in self.data[:steps]:
            if self.stopping.wait(self.interval):
                return
            conn.sendall(bytes([byte]))


# --- a ZooKeeper that lies, trickles or floods -------------------------------------------------

OP_GET_DATA, OP_RECONFIG, OP_PING, OP_CLOSE, OP_AUTH, OP_SASL = 4, 16, 11, -11, 100, 102
ERROR_AUTH_FAILED = -115
DIGEST_CHALLENGE = b'realm="zk-sasl-md5",nonce="fakenonce",qop="auth",charset=utf-8,algorithm=md5-sess'


def recv_exact(conn: socket.socket, size: int) -> bytes:
    """``size`` bytes from ``conn``; fewer when it closes first."""
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def zk_buffer(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def zk_reply(xid: int, err: int = 0, body: bytes = b"") -> bytes:
    """A reply packet: its length, the header (xid, zxid, err), the body."""
    packet = struct.pack(">iqi", xid, 0x100000009, err) + body
    return struct.pack(">i", len(packet)) + packet


CONNECT_RESPONSE = struct.pack(">iiq", 0, 10000, 0x1234) + zk_buffer(b"\0" * 16) + b"\0"
STAT = struct.pack(">qqqqiiiqiiq", 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1)


class FakeZooKeeper(FakeServer):
    """A process on a member's address that says what it likes: ``srvr`` as a ``mode`` member, and
    a ZooKeeper session (what kazoo needs to connect, read a znode, try SASL DIGEST-MD5 and ask for
    a reconfig) serving ``config`` as /zookeeper/config.  ``received`` holds every byte sessions
    sent it, ``requests`` the opcodes; SASL gets a challenge, then is refused; a reconfig is refused.
    ``connect_reply`` and ``data_reply`` say how the two replies go out (subclasses trickle, flood)."""

    def __init__(self, config: str, mode: str = "leader", host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.config, self.mode = config.encode(), mode
        self.received = bytearray()
        self.requests: list[int] = []

    def handle(self, conn: socket.socket, index: int) -> None:
        conn.settimeout(READ_TIMEOUT)
        head = recv_exact(conn, 4)
        if head.isalpha():  # a four-letter word
            with self._lock:
                self.commands.append(head.decode())
            if head == b"srvr":
                conn.sendall(srvr_text(self.mode).encode())
            return
        connect = recv_exact(conn, struct.unpack(">i", head)[0]) if len(head) == 4 else b""
        self._record(head + connect)
        self.connect_reply(conn)
        while not self.stopping.is_set():
            head = recv_exact(conn, 4)
            if len(head) < 4:
                return
            packet = recv_exact(conn, struct.unpack(">i", head)[0])
            self._record(head + packet)
            xid, op = struct.unpack(">ii", packet[:8])
            with self._lock:
                self.requests.append(op)
            if op == OP_GET_DATA:
                self.data_reply(conn, zk_reply(xid, 0, zk_buffer(self.config) + STAT))
            elif op == OP_SASL:
                first = self.requests.count(OP_SASL) == 1
                conn.sendall(
                    zk_reply(xid, 0, zk_buffer(DIGEST_CHALLENGE)) if first else zk_reply(xid, ERROR_AUTH_FAILED)
                )
            elif op == OP_CLOSE:
                conn.sendall(zk_reply(xid))
                return
            elif op == OP_RECONFIG:
                conn.sendall(zk_reply(xid, -102))  # NoAuth
            else:  # a ping, an auth packet
                conn.sendall(zk_reply(xid))

    def connect_reply(self, conn: socket.socket) -> None:
        conn.sendall(struct.pack(">i", len(CONNECT_RESPONSE)) + CONNECT_RESPONSE)

    def data_reply(self, conn: socket.socket, reply: bytes) -> None:
        conn.sendall(reply)

    def _record(self, data: bytes) -> None:
        with self._lock:
            self.received += data


class TrickleZooKeeper(FakeZooKeeper):
    """Sends its session's first reply one byte every ``interval`` seconds, for at most ``limit``:
    every read gets a byte in time, the reply never ends."""

    def __init__(self, interval: float = 0.5, limit: float = 20.0, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__("", "leader", host, port)
        self.interval, self.limit = interval, limit

    def connect_reply(self, conn: socket.socket) -> None:
        reply = struct.pack(">i", len(CONNECT_RESPONSE)) + CONNECT_RESPONSE
        for step in range(int(self.limit / self.interval)):
            if self.stopping.wait(self.interval):
                return
            conn.sendall(reply[step % len(reply) : step % len(reply) + 1])
        self.stopping.wait(self.limit)


class FloodZooKeeper(FakeZooKeeper):
    """Announces a /zookeeper/config of ``size`` bytes and sends them as fast as the client reads."""

    def __init__(self, size: int, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__("", "leader", host, port)
        self.size = size
        self.sent = 0

    def data_reply(self, conn: socket.socket, reply: bytes) -> None:
        header = reply[4:20]
        conn.sendall(struct.pack(">i", 16 + 4 + self.size) + header + struct.pack(">i", self.size))
        block = b"server.1=" + b"x" * 65527
        while self.sent < self.size and not self.stopping.is_set():
            conn.sendall(block)
            self.sent += len(block)


class Floods(FakeServer):
    """Answers any four-letter word with ``size`` bytes of a srvr-like text, as fast as read."""

    def __init__(self, size: int, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.size = size

    def handle(self, conn: socket.socket, index: int) -> None:
        self.read(conn)
        block = b"Mode: leader\n" * 5000
        sent = 0
        while sent < self.size and not self.stopping.is_set():
            conn.sendall(block)
            sent += len(block)


# --- the admin server ----------------------------------------------------------------------------

ADMIN_VERSION = "3.8.0-abc, built on 2024-12-29 17:54 UTC"


def admin_srvr(state: str = "standalone", zxid: int = 0x100000004) -> dict[str, object]:
    """The admin server's /commands/srvr document (ZooKeeper 3.8)."""
    return {
        "version": ADMIN_VERSION,
        "read_only": False,
        "server_stats": {
            "packets_sent": 2,
            "packets_received": 3,
            "fsync_threshold_exceed_count": 0,
            "client_response_stats": {"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1},
            "data_dir_size": 0,
            "log_dir_size": 0,
            "last_processed_zxid": zxid,
            "outstanding_requests": 0,
            "server_state": state,
            "avg_latency": 0.5,
            "max_latency": 3,
            "min_latency": 0,
            "num_alive_client_connections": 2,
            "provider_null": False,
            "uptime": 86400123,
        },
        "client_response": {"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1},
        "node_count": 5,
        "command": "server_stats",
        "error": None,
    }


def admin_mntr(state: str = "standalone") -> dict[str, object]:
    """The admin server's /commands/mntr document: flat, names without mntr's zk_ prefix."""
    return {
        "version": ADMIN_VERSION,
        "avg_latency": 0.5,
        "max_latency": 3,
        "min_latency": 0,
        "packets_received": 3,
        "packets_sent": 2,
        "num_alive_connections": 1,
        "outstanding_requests": 0,
        "server_state": state,
        "znode_count": 5,
        "watch_count": 0,
        "ephemerals_count": 0,
        "approximate_data_size": 44,
        "read_only": False,
        "command": "monitor",
        "error": None,
    }


def admin_routes(state: str = "standalone") -> dict[str, tuple[int, bytes]]:
    """path -> (HTTP status, body) of a healthy admin server."""
    return {
        "/commands/ruok": (200, json.dumps({"command": "ruok", "error": None}).encode()),
        "/commands/srvr": (200, json.dumps(admin_srvr(state)).encode()),
        "/commands/mntr": (200, json.dumps(admin_mntr(state)).encode()),
    }


def admin_routes_not_serving(status: int = 200) -> dict[str, tuple[int, bytes]]:
    """An admin server whose ZooKeeper has no quorum: ruok, srvr and mntr all say so (ZooKeeper's
    admin commands, ruok included, need a running server)."""
    error = "This ZooKeeper instance is not currently serving requests"
    routes = admin_routes()
    routes["/commands/ruok"] = (status, json.dumps({"command": "ruok", "error": error}).encode())
    routes["/commands/srvr"] = (status, json.dumps({"command": "server_stats", "error": error}).encode())
    routes["/commands/mntr"] = (status, json.dumps({"command": "monitor", "error": error}).encode())
    return routes


def admin_routes_not_json() -> dict[str, tuple[int, bytes]]:
    """Something on the admin port that is not ZooKeeper's admin server."""
    page = b"<html><body>Error 404 Not Found</body></html>"
    return {path: (404, page) for path in admin_routes()}


class FakeAdmin:
    """ZooKeeper's admin server: GET ``/commands/<name>`` answers from ``routes`` (path -> (status,
    body)), 404 with a JSON error otherwise.  ``requests`` lists the paths asked for."""

    def __init__(self, routes: Mapping[str, tuple[int, bytes]] | None = None) -> None:
        self.routes = dict(routes) if routes is not None else admin_routes()
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                status, body = fake.routes.get(
                    self.path, (404, json.dumps({"command": self.path, "error": "Unknown command"}).encode())
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeAdmin", daemon=True
        )

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(JOIN_TIMEOUT)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def same_port_on_loopbacks(factories: list[Callable[[str, int], FakeServer]], attempts: int = 20) -> list[FakeServer]:
    """One fake per factory, on 127.0.0.1, 127.0.0.2, ... all with the same port (not started): the
    members of an ensemble share their client port.  Retries a bounded number of times when a port
    is taken on one of the addresses."""
    for _ in range(attempts):
        fakes: list[FakeServer] = []
        try:
            for i, factory in enumerate(factories):
                fakes.append(factory(f"127.0.0.{i + 1}", fakes[0].port if fakes else 0))
        except OSError:
            for fake in fakes:
                fake.stop()
            continue
        return fakes
    raise AssertionError(f"no port free on {len(factories)} loopback addresses in {attempts} attempts")

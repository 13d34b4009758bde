"""ZooKeeper sessions through kazoo: a member's view of the ensemble's configuration, ``reconfig``
and a write check.

The probes never load this.  kazoo's own log lines are kept out of zkboot's stderr: a start prints
one line per step, and an error is one line.  Whatever the peer does, a call ends in time and
within bounds:
- the whole session (connect, the request, kazoo's stop) runs in a worker thread, and the caller
  waits for its answer until a hard deadline, then shuts the session's sockets so that kazoo's
  threads end too (kazoo's ``stop()`` joins its connection thread without a timeout, and a peer
  that trickles a byte at a time keeps that thread alive);
- kazoo reads through a socket that gives it at most MAX_REPLY bytes in all (kazoo reads a reply
  of any length its peer announces).

The super user's password is never sent: ``reconfig`` authenticates as the super user with SASL
DIGEST-MD5, a challenge and response, which the members' JAAS file and ``zookeeper.superUser``
allow (written by ``zkboot start``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from zkboot.client.access import Access
from zkboot.errors import Kind, NotAuthorized, SessionError

if TYPE_CHECKING:
    import logging

CONFIG_NODE = "/zookeeper/config"  # ZooKeeper 3.5+: the membership as the member knows it
SUPER_USER = "super"  # the SASL account whose sessions ZooKeeper makes super (zookeeper.superUser)
MAX_REPLY = 1 << 20  # bytes one session may read: a configuration of 255 servers is some 30 KiB
CHUNK = 65536  # bytes asked of the socket at once, whatever length the peer announced
STOP_GRACE = 0.5  # seconds for kazoo to close a session once the answer is in

Answer = TypeVar("Answer")


def _quiet_logger() -> logging.Logger:
    import logging  # with kazoo, when a session is opened

    logger = logging.getLogger("zkboot.kazoo")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


class _Budget:
    """The bytes one session's sockets may still read, and every socket it opened (to shut them)."""

    def __init__(self) -> None:
        self.left = MAX_REPLY
        self.flooded = threading.Event()
        self.done = threading.Event()  # the call answered, failed, or was flooded
        self.answers: list[Any] = []
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def deliver(self, answer: Any) -> None:
        """The call's answer, as soon as it is in: closing the session may still take long."""
        self.answers.append(answer)
        self.done.set()

    def shut(self) -> None:
        with self.lock:
            sockets = list(self.sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _CappedSocket:
    """kazoo's socket, giving it at most what the budget allows; an OSError past that (kazoo drops
    the connection)."""

    def __init__(self, sock: socket.socket, budget: _Budget) -> None:
        self._sock = sock
        self._budget = budget

    def recv(self, size: int, *flags: int) -> bytes:
        data = self._sock.recv(min(size, CHUNK), *flags)
        budget = self._budget
        with budget.lock:
            budget.left -= len(data)
            over = budget.left < 0
        if over:
            budget.flooded.set()
            budget.done.set()
            raise OSError(f"more than {MAX_REPLY} bytes")
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _handler(budget: _Budget) -> Any:
    """kazoo's threading handler, its connections through _CappedSocket."""
    from kazoo.handlers.threading import SequentialThreadingHandler  # type: ignore[import-untyped]

    class Capped(SequentialThreadingHandler):  # type: ignore[misc]
        def create_connection(self, *args: Any, **kwargs: Any) -> _CappedSocket:
            sock = super().create_connection(*args, **kwargs)
            with budget.lock:
                budget.sockets.append(sock)
            return _CappedSocket(sock, budget)

    return Capped()


def _bounded(host: str, port: int, seconds: float, budget: _Budget, call: Callable[[], Answer]) -> Answer:
    """``call()`` in a daemon thread; its answer, or its error, within ``seconds`` (and STOP_GRACE
    for the session to close) whatever the peer does; the session's sockets are shut at the end
    either way."""
    failure: list[BaseException] = []
    done = budget.done

    def run() -> None:
        try:
            budget.deliver(call())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=run, name=f"zkboot-session-{host}", daemon=True)
    worker.start()
    answered = done.wait(seconds)
    worker.join(STOP_GRACE)  # a session that answered closes itself, as the server expects
    budget.shut()  # ends kazoo's threads, should they still wait on the peer
    if budget.answers:
        answer: Answer = budget.answers[0]
        return answer
    if budget.flooded.is_set():
        raise SessionError(Kind.UNEXPECTED, f"{host}:{port} sent more than {MAX_REPLY >> 20} MiB")
    if not answered or not failure:
        raise SessionError(Kind.TIMED_OUT, f"{host}:{port}: no answer within {seconds:g}s")
    raise failure[0]


@contextlib.contextmanager
def _session(host: str, access: Access, timeout: float, budget: _Budget, password: str | None = None) -> Iterator[Any]:
    """A started kazoo client of ``host`` alone, reached as ``access`` says (as the super user with
    ``password``), always stopped and closed; kazoo's errors and time-outs inside become SessionErrors."""
    # Loaded here, when a session is opened: most starts open none (standalone, or no peer serving).
    from kazoo.client import KazooClient  # type: ignore[import-untyped]
    from kazoo.exceptions import AuthFailedError, KazooException, NoAuthError, NoNodeError  # type: ignore[import-untyped]

    port = access.port
    arguments = access.kazoo()
    if password is not None:  # the super user, by challenge and response: the password stays here
        arguments["sasl_options"] = {"mechanism": "DIGEST-MD5", "username": SUPER_USER, "password": password}
    client: Any = KazooClient(
        hosts=f"{host}:{port}",
        timeout=max(timeout, 1.0),
        randomize_hosts=False,
        handler=_handler(budget),
        logger=_quiet_logger(),
        **arguments,
    )
    try:
        try:
            client.start(timeout=timeout)
            yield client
        except client.handler.timeout_exception:
            raise SessionError(Kind.TIMED_OUT, f"{host}:{port}: no answer within {timeout:g}s") from None
        except NoNodeError:
            raise SessionError(Kind.UNEXPECTED, f"{host}:{port} has no {CONFIG_NODE} (ZooKeeper before 3.5)") from None
        except (NoAuthError, AuthFailedError) as exc:
            raise NotAuthorized(Kind.UNEXPECTED, f"{host}:{port}: refused ({type(exc).__name__})") from None
        except KazooException as exc:
            raise SessionError(Kind.UNEXPECTED, f"{host}:{port}: refused ({type(exc).__name__})") from None
    finally:
        client.stop()
        client.close()


def _data(value: object) -> str:
    return bytes(value).decode("utf-8", "replace") if isinstance(value, bytes) else ""


def read_config(host: str, access: Access, timeout: float) -> str:
    """The text of ``/zookeeper/config`` on one member (``server.N=...`` lines and ``version=``)."""
    budget = _Budget()

    def call() -> str:
        with _session(host, access, timeout, budget) as client:
            data, _stat = client.get_async(CONFIG_NODE).get(timeout=timeout)
            budget.deliver(_data(data))
        return _data(data)

    return _bounded(host, access.port, 2 * timeout + STOP_GRACE, budget, call)


def reconfigure(
    host: str,
    access: Access,
    password: str,
    timeout: float,
    *,
    joining: str | None = None,
    leaving: str | None = None,
    from_version: int = -1,
) -> str:
    """One ``reconfig`` as the super user; the configuration it committed (``/zookeeper/config``'s text).

    ZooKeeper runs one reconfiguration at a time and commits it only once a majority of the new
    configuration is connected; ``from_version`` makes it conditional on the configuration read.
    Raises NotAuthorized when the server did not take the super user's password, else SessionError
    with ``Kind.UNEXPECTED`` and the ZooKeeper error's name (``ReconfigInProgress``,
    ``BadVersionError``, ``NewConfigNoQuorum``...) when it did not commit.
    """
    budget = _Budget()

    def call() -> str:
        with _session(host, access, timeout, budget, password) as client:
            data, _stat = client.reconfig_async(joining, leaving, None, from_version).get(timeout=timeout)
            budget.deliver(_data(data))
        return _data(data)

    return _bounded(host, access.port, 2 * timeout + STOP_GRACE, budget, call)


def check_write(host: str, access: Access, timeout: float) -> None:
    """A write that commits (an ephemeral znode, created and deleted): the ensemble takes writes."""
    budget = _Budget()

    def call() -> None:
        with _session(host, access, timeout, budget) as client:
            path = client.create_async("/zkboot-write-check-", b"", ephemeral=True, sequence=True).get(timeout=timeout)
            client.delete_async(path).get(timeout=timeout)

    _bounded(host, access.port, 3 * timeout + STOP_GRACE, budget, call)

"""ZooKeeper sessions through kazoo: a member's view of the ensemble's configuration, ``reconfig``
and a write check.

The probes never load this.  Every call has a deadline, and kazoo's own log lines are kept out of
zkboot's stderr: a start prints one line per step, and an error is one line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from zkboot.client.access import Access
from zkboot.errors import Kind, NotAuthorized, SessionError

if TYPE_CHECKING:
    import logging

CONFIG_NODE = "/zookeeper/config"  # ZooKeeper 3.5+: the membership as the member knows it


def _quiet_logger() -> logging.Logger:
    import logging  # with kazoo, when a session is opened

    logger = logging.getLogger("zkboot.kazoo")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


@contextlib.contextmanager
def _session(host: str, access: Access, timeout: float, password: str | None = None) -> Iterator[Any]:
    """A started kazoo client of ``host`` alone, reached as ``access`` says (as the super user with
    ``password``), always stopped and closed; kazoo's errors and time-outs inside become SessionErrors."""
    # Loaded here, when a session is opened: most starts open none (standalone, or no peer serving).
    from kazoo.client import KazooClient  # type: ignore[import-untyped]
    from kazoo.exceptions import KazooException, NoAuthError, NoNodeError  # type: ignore[import-untyped]

    port = access.port
    client: Any = KazooClient(
        hosts=f"{host}:{port}",
        timeout=max(timeout, 1.0),
        randomize_hosts=False,
        auth_data=super_auth(password) if password is not None else None,
        logger=_quiet_logger(),
        **access.kazoo(),
    )
    try:
        try:
            client.start(timeout=timeout)
            yield client
        except client.handler.timeout_exception:
            raise SessionError(Kind.TIMED_OUT, f"{host}:{port}: no answer within {timeout:g}s") from None
        except NoNodeError:
            raise SessionError(Kind.UNEXPECTED, f"{host}:{port} has no {CONFIG_NODE} (ZooKeeper before 3.5)") from None
        except NoAuthError:
            raise NotAuthorized(Kind.UNEXPECTED, f"{host}:{port}: refused ({NoAuthError.__name__})") from None
        except KazooException as exc:
            raise SessionError(Kind.UNEXPECTED, f"{host}:{port}: refused ({type(exc).__name__})") from None
    finally:
        client.stop()
        client.close()


def read_config(host: str, access: Access, timeout: float) -> str:
    """The text of ``/zookeeper/config`` on one member (``server.N=...`` lines and ``version=``)."""
    with _session(host, access, timeout) as client:
        data, _stat = client.get_async(CONFIG_NODE).get(timeout=timeout)
        return bytes(data).decode("utf-8", "replace")


def super_auth(password: str) -> list[tuple[str, str]]:
    """kazoo's auth_data for ZooKeeper's super user (digest scheme)."""
    return [("digest", f"super:{password}")]


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
    Raises NotAuthorized when the password is not the super user's, else SessionError with
    ``Kind.UNEXPECTED`` and the ZooKeeper error's name (``ReconfigInProgress``, ``BadVersionError``,
    ``NewConfigNoQuorum``...) when it did not commit.
    """
    with _session(host, access, timeout, password) as client:
        data, _stat = client.reconfig_async(joining, leaving, None, from_version).get(timeout=timeout)
        return bytes(data).decode("utf-8", "replace")


def check_write(host: str, access: Access, timeout: float) -> None:
    """A write that commits (an ephemeral znode, created and deleted): the ensemble takes writes."""
    with _session(host, access, timeout) as client:
        path = client.create_async("/zkboot-write-check-", b"", ephemeral=True, sequence=True).get(timeout=timeout)
        client.delete_async(path).get(timeout=timeout)

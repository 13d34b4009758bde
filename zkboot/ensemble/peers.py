"""Asking the other members: which serve, what membership they hold, which have no pod.

Each question goes to every peer at once, under one deadline (zkboot.client.parallel), so one
unreachable pod costs one timeout, not one per pod.
"""

from __future__ import annotations

import socket

from zkboot.client.access import Access
from zkboot.client.parallel import ask_all
from zkboot.client.session import read_config
from zkboot.ensemble.config import Server, parse_config
from zkboot.errors import QueryError

JOIN_GRACE = 0.2  # seconds beyond the per-peer deadline before a peer counts as not serving
LOOKUP_SECONDS = 2.0  # for the name lookups of without_pod


def serving_hosts(hosts: list[str], access: Access, timeout: float) -> list[str]:
    """Those of ``hosts`` whose server serves (``srvr``), all asked at once under one deadline."""

    def serving(host: str) -> bool:
        try:
            return access.endpoint(host, timeout).srvr().serving
        except QueryError:
            return False

    return [host for host, yes in zip(hosts, ask_all(hosts, serving, timeout + JOIN_GRACE), strict=True) if yes]


def read_membership(hosts: list[str], access: Access, timeout: float) -> tuple[str, str] | None:
    """``/zookeeper/config``'s text from the first of ``hosts`` that gives it, and that host."""
    for host in hosts:
        try:
            text = read_config(host, access, timeout)
        except QueryError:
            continue
        if parse_config(text):
            return text, host
    return None


def without_pod(servers: tuple[Server, ...]) -> list[Server]:
    """Configured members whose names do not resolve: no pod (the headless Service lists pods)."""

    def missing(server: Server) -> bool:
        try:
            socket.getaddrinfo(server.host, None)
        except socket.gaierror:
            return True
        return False

    return [s for s, gone in zip(servers, ask_all(list(servers), missing, LOOKUP_SECONDS), strict=True) if gone]

"""Liveness and readiness, as Kubernetes should be told them.

- live: the process answers ``ruok`` with ``imok`` (over the admin server: answers at all).
  That is all a restart can fix, and all the old ``zookeeper-ready`` checked, so the old
  manifests (which use it for readiness under OrderedReady, where pod 0 alone can never have
  quorum) keep booting.
- ready: the server serves clients: ``srvr`` reports leader, follower, observer or standalone.
  A server that lost quorum answers imok but serves nobody: it is live and not ready.
Each check returns None when it passes, else the one-line reason.
"""

from __future__ import annotations

from zkboot.client.endpoint import Endpoint, tls_context
from zkboot.errors import Kind, QueryError
from zkboot.options import ProbeOptions


def endpoint_for(options: ProbeOptions) -> Endpoint:
    """The endpoint the probe options describe (TLS files loaded here: OSError if they do not load)."""
    tls = None
    if options.transport == "tls":
        tls = tls_context(options.tls_ca, options.tls_cert, options.tls_key)
    return Endpoint(options.host, options.port, options.timeout, options.transport, options.admin_port, tls)


def live(endpoint: Endpoint) -> str | None:
    try:
        reply = endpoint.ruok()
    except QueryError as exc:
        return f"not live ({exc.kind}): {exc.detail}"
    if reply != "imok":
        return f"not live ({Kind.UNEXPECTED}): {endpoint.address} answered ruok with {reply[:60]!r}"
    return None


def ready(endpoint: Endpoint) -> str | None:
    try:
        stats = endpoint.srvr()
    except QueryError as exc:
        return f"not ready ({exc.kind}): {exc.detail}"
    if not stats.serving:
        return f"not ready ({Kind.NOT_SERVING}): {endpoint.address} is in mode {stats.mode}"
    return None


CHECKS = {"live": live, "ready": ready}

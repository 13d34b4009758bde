"""Liveness and readiness, as Kubernetes should be told them.

- live: the process answers ``ruok`` with ``imok`` (over the admin server: answers at all).
  That is all a restart can fix, and all the old ``zookeeper-ready`` checked, so the old
  manifests (which use it for readiness under OrderedReady, where pod 0 alone can never have
  quorum) keep booting.
- ready: the server serves clients: ``srvr`` reports leader, follower, observer or standalone.
  A server that lost quorum answers imok but serves nobody: it is live and not ready.
Each check returns None when it passes, else the one-line reason.
"""

from zkboot.client.endpoint import Endpoint
from zkboot.errors import Kind, QueryError


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

"""The pods as the host sees them: each ordinal's address, myid, the mode its server reports, its
probes, restarts, revision and state, one row each and a table of them (``python -m podsim``, the
tests' failure reports), and ``wait()``, whose timeout shows that table."""

from __future__ import annotations

import time
from collections.abc import Callable

from podsim.clients import ClientAccess
from podsim.controller import StatefulSetController
from podsim.errors import SimulationError
from podsim.net import Network
from podsim.zk import ZkError, srvr


class Status:
    def __init__(self, statefulset: StatefulSetController, net: Network, clients: ClientAccess) -> None:
        self.statefulset = statefulset
        self.net = net
        self.clients = clients

    def address(self, ordinal: int) -> str:
        return self.net.address(ordinal)

    def client_hosts(self) -> str:
        return ",".join(f"{self.address(i)}:{self.clients.port}" for i in self.statefulset.ordinals())

    def myid(self, ordinal: int) -> str:
        for claim in self.statefulset.sts.claims:
            for candidate in self.statefulset.pvc_dir(ordinal, claim).rglob("myid"):
                return candidate.read_text().strip()
        return "-"

    def mode(self, ordinal: int) -> str:
        """The mode the pod's server reports to ``srvr``, or why there is none (refused, ...)."""
        try:
            return srvr(self.address(ordinal), self.clients.port, tls=self.clients.tls).mode
        except ZkError as exc:
            return exc.kind

    def rows(self) -> list[dict[str, str]]:
        rows = []
        statefulset = self.statefulset
        pods = statefulset.pods.copy()
        for ordinal in range(max([statefulset.replicas, *[i + 1 for i in pods]])):
            pod = pods.get(ordinal)
            if pod is None:
                rows.append({"pod": f"{statefulset.sts.name}-{ordinal}", "address": "-", "myid": "-", "mode": "-",
                             "live": "-", "ready": "-", "restarts": "-", "revision": "-",
                             "state": "Pending"})  # fmt: skip
                continue
            running = pod.running()
            rows.append(
                {
                    "pod": pod.hostname,
                    "address": self.address(ordinal),
                    "myid": self.myid(ordinal),
                    "mode": self.mode(ordinal) if running else "-",
                    "live": "yes" if running and pod.live else "no",
                    "ready": "yes" if running and pod.ready else "no",
                    "restarts": str(pod.restarts),
                    "revision": str(pod.revision),
                    "state": "Terminating" if ordinal in statefulset.terminating
                    else "Running" if running else ("Held" if pod.held else "Waiting"),
                }
            )  # fmt: skip
        return rows

    def table(self) -> str:
        rows = self.rows()
        header = list(rows[0]) if rows else []
        cells = [header] + [[row[key] for key in header] for row in rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells)

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> float:
        """Seconds until ``predicate()`` holds; SimulationError (with the table) after ``timeout``."""
        start = time.monotonic()
        while True:
            if predicate():
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise SimulationError(f"timed out after {timeout:g}s waiting for {what}\n{self.table()}")
            time.sleep(0.1)

"""The static membership guard: a start never writes a server list that differs from a serving
ensemble's.

Two configurations must never each hold a quorum.  That is what happens when the members of an
ensemble are restarted one by one with a longer (or shorter) server list: the old members keep a
quorum under the old list while the restarted ones elect a leader of their own under the new one,
and acknowledged writes are lost for good.  So before the files are written, the start asks the
peers it is about to list which of them serve (``srvr``, all at once, under one deadline), reads
the membership a serving one holds (``/zookeeper/config``, ZooKeeper 3.5+), and refuses when it is
not this start's list.  Nobody serving (a first boot, a whole-ensemble restart) costs at most the
deadline and goes ahead: there is then no second configuration to split from.
"""

from __future__ import annotations

from zkboot.client.access import Access
from zkboot.client.parallel import ask_all
from zkboot.client.session import read_config
from zkboot.ensemble.config import Server, describe, parse_config, planned
from zkboot.ensemble.peers import serving_hosts
from zkboot.errors import EnvironmentProblem, QueryError
from zkboot.identity import Identity

READ_GRACE = 0.5  # seconds beyond the per-peer deadline for reading the memberships of those that serve


def check_static(
    identity: Identity, quorum_port: int, election_port: int, access: Access, timeout: float, *, readable: bool
) -> str:
    """What the peers said, for the progress line; EnvironmentProblem when a serving peer holds
    another server list than this start's, or (``readable``: ZooKeeper 3.5+) none would say."""
    ours = planned(identity, quorum_port, election_port)
    peers = [m.host for m in identity.members if m.myid != identity.myid]
    if not peers:
        return "standalone: no peers to ask"

    up = serving_hosts(peers, access, timeout)
    if not up:
        return f"none of the {len(peers)} peers serves: a first boot or a whole-ensemble restart"

    def membership(host: str) -> tuple[Server, ...] | str:
        try:
            return parse_config(read_config(host, access, timeout))
        except QueryError as exc:
            return f"{exc.kind}: {exc.detail}"

    answers = ask_all(up, membership, timeout + READ_GRACE)
    unknown = []
    for host, answer in zip(up, answers, strict=True):
        if isinstance(answer, tuple) and answer:
            if answer != ours:
                raise EnvironmentProblem(
                    f"the ensemble serving at {host} has {describe(answer)} but this start would write "
                    f"{describe(ours)}: refusing, since two configurations must never each hold a quorum "
                    "(expected the serving ensemble's list; to change it, stop every member first)"
                )
            return f"{host} serves the same {len(ours)} servers"
        unknown.append(f"{host} ({answer or 'no answer in time'})")
    if readable:  # better a refused start, which Kubernetes retries, than a guess
        raise EnvironmentProblem(
            "could not read the membership of the serving ensemble from "
            + ", ".join(unknown)
            + "; refusing to start without comparing server lists (expected an answer on a retry)"
        )
    return "ZooKeeper before 3.5 keeps no membership to compare: " + ", ".join(unknown)

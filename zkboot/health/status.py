"""The ensemble as seen from one pod: every member's state, and one line of verdict.

Members are derived from the same settings and identity as ``start``, so ``zkboot status`` in a
pod asks exactly the servers its zoo.cfg lists.  Members are asked in parallel, each under the
same deadline, so one unreachable pod costs one timeout, not one per pod.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from zkboot.client.endpoint import Endpoint, Srvr, tls_context
from zkboot.client.parallel import ask_all
from zkboot.ensemble.config import check_members, parse_config
from zkboot.ensemble.peers import read_membership, without_pod
from zkboot.ensemble.setup import PeerSetup, prepare
from zkboot.errors import ForeignMembership, Kind, QueryError, UsageError
from zkboot.health.probes import endpoint_for
from zkboot.identity import Identity
from zkboot.options import Given
from zkboot.settings.resolve import FlagValues, resolve

JOIN_GRACE = 0.5  # seconds beyond the per-member deadline before a member counts as timed out


@dataclass(frozen=True, slots=True)
class MemberState:
    myid: int
    host: str
    port: int
    stats: Srvr | None
    kind: str | None = None  # why stats is None: one of Kind
    detail: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def problem(self) -> str | None:
        return f"{self.kind}: {self.detail}" if self.kind else None

    @property
    def reachable(self) -> bool:
        # A server that says it is not serving answered: it is up, just not in a quorum.
        return self.stats is not None or self.kind == Kind.NOT_SERVING

    @property
    def mode(self) -> str:
        if self.stats is not None:
            return self.stats.mode
        return Kind.NOT_SERVING if self.reachable else "-"


def collect(identity: Identity, endpoint: Endpoint, members: list[tuple[int, str]] | None = None) -> list[MemberState]:
    """Ask every member (or this server alone, standalone); ``endpoint`` gives port and transport.
    ``members`` (myid, host): the configured ones, when they are known (dynamic membership)."""
    if members is None:
        members = [(m.myid, m.host) for m in identity.members] or [(identity.myid, endpoint.host)]

    def ask(member: tuple[int, str]) -> MemberState:
        myid, host = member
        try:
            return MemberState(myid, host, endpoint.port, endpoint.at(host).srvr())
        except QueryError as exc:
            return MemberState(myid, host, endpoint.port, None, exc.kind, exc.detail)

    answers = ask_all(members, ask, endpoint.timeout + JOIN_GRACE)
    return [
        answer or MemberState(myid, host, endpoint.port, None, Kind.TIMED_OUT, f"{host} gave no answer in time")
        for answer, (myid, host) in zip(answers, members, strict=True)
    ]


def verdict(states: list[MemberState]) -> tuple[bool, str]:
    """(quorum held, one line saying so: who leads, who lags, who is missing)."""
    total = len(states)
    serving = [s for s in states if s.stats is not None and s.stats.serving]
    if total == 1:
        only = states[0]
        if only.stats is not None and only.stats.serving:
            return True, f"serving: {only.host} is {only.stats.mode}"
        return False, f"not serving: {only.host} ({only.problem or only.mode})"
    need = total // 2 + 1
    leaders = [s for s in serving if s.stats is not None and s.stats.mode == "leader"]
    voters = [s for s in serving if s.stats is not None and s.stats.mode in ("leader", "follower")]
    missing = [s for s in states if s not in serving]
    missing_text = ", ".join(f"{_short(s.host)} (myid {s.myid})" for s in missing)
    if len(leaders) != 1 or len(voters) < need:
        parts = [f"{len(voters)} of {total} voting members serving, {need} needed"]
        if len(leaders) != 1:
            parts.append(f"{len(leaders)} leaders" if leaders else "no leader")
        if missing:
            parts.append(f"not serving: {missing_text}")
        return False, "quorum lost: " + "; ".join(parts)
    leader = leaders[0]
    assert leader.stats is not None
    line = f"quorum held: {len(voters)} of {total} serving, leader {_short(leader.host)} (myid {leader.myid})"
    lagging = [
        f"{_short(s.host)} by {leader.stats.zxid - s.stats.zxid}"
        for s in serving
        if s.stats is not None and s.stats.zxid < leader.stats.zxid
    ]
    if lagging:
        line += "; lagging (zxids behind the leader): " + ", ".join(lagging)
    if missing:
        line += f"; not serving: {missing_text}"
    return True, line


def _short(host: str) -> str:
    """A member's pod name (zk-1 of zk-1.zk-hs...); an address stays whole."""
    first = host.split(".")[0]
    return host if first.isdigit() else first


def table(states: list[MemberState]) -> str:
    header = ("MYID", "ADDRESS", "REACHABLE", "MODE", "ZXID", "LATENCY", "CONNS", "OUTSTANDING")
    rows = [header]
    for s in states:
        if s.stats is None:
            reachable = "yes" if s.reachable else f"no ({s.kind})"
            rows.append((str(s.myid), s.address, reachable, s.mode, "-", "-", "-", "-"))
        else:
            st = s.stats
            rows.append(
                (str(s.myid), s.address, "yes", st.mode, f"{st.zxid:#x}", f"{st.latency_avg:g}ms",
                 str(st.connections), str(st.outstanding))
            )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def to_json(states: list[MemberState], held: bool, line: str) -> str:
    members = [
        {
            "myid": s.myid,
            "address": s.address,
            "reachable": s.reachable,
            **(s.stats.as_dict() if s.stats is not None else {"mode": s.mode, "problem": s.problem}),
        }
        for s in states
    ]
    return json.dumps({"members": members, "quorum": held, "verdict": line}, indent=2)


def target(setup: PeerSetup) -> Endpoint:
    """How to ask the members: as the probe options say; with the plain port on loopback only, the
    other members' secure port with this pod's own certificate (unless the flags chose a transport).
    Over TLS with a CA, a member's certificate must name the member (standalone: the CA alone,
    since the server is asked at the probes' address)."""
    probe, secure = setup.probe, setup.access.secure
    try:
        if secure is not None and probe.transport == "tcp":
            return setup.access.endpoint(probe.host, probe.timeout)
        endpoint = endpoint_for(probe)
        if endpoint.tls is not None and probe.tls_ca and setup.identity.members:
            # The members are asked by their pod names: each certificate must carry its own.
            named = tls_context(probe.tls_ca, probe.tls_cert, probe.tls_key, check_name=True)
            endpoint = dataclasses.replace(endpoint, tls=named)
        return endpoint
    except OSError as exc:  # TLS files that do not load
        raise UsageError(f"TLS files: {exc}") from None


def run(flags: FlagValues, probe_flags: Given, environ: Mapping[str, str], fmt: str) -> int:
    """``zkboot status``: ask every member of this pod's ensemble; exit 1 when there is no quorum.

    The members and their ports come from the settings, as ``start`` derives them; how to ask
    (timeout, transport, TLS files) from the probe options.
    """
    if fmt not in ("table", "json"):
        raise UsageError(f"--format={fmt!r}: expected table or json")
    setup = prepare(resolve(flags, environ), probe_flags, environ)
    who, settings = setup.identity, setup.settings
    asked = target(setup)
    members, no_pod, refused = None, [], ""
    if settings.membership == "dynamic":  # the members are what the ensemble says, not --servers
        hosts = [who.fqdn, *(m.host for m in who.members if m.host != who.fqdn)]
        found = read_membership(hosts, setup.access, asked.timeout)
        if found is not None:
            try:  # a forged list must not send status to other hosts: then the settings' members
                configured = check_members(
                    parse_config(found[0]), who, settings.server_port, settings.election_port, found[1]
                )
            except ForeignMembership as exc:
                refused = "; " + str(exc)
            else:
                members = [(s.myid, s.host) for s in configured]
                no_pod = without_pod(configured)
    states = collect(who, asked, members)
    held, line = verdict(states)
    line += refused
    if no_pod:
        line += "; configured without a pod: " + ", ".join(f"{_short(s.host)} (myid {s.myid})" for s in no_pod)
    if fmt == "json":
        sys.stdout.write(to_json(states, held, line) + "\n")
    else:
        sys.stdout.write(table(states) + "\n" + line + "\n")
    return 0 if held else 1

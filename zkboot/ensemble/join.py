"""Dynamic membership at start (ZooKeeper 3.5.3+): which configuration a member starts with, joining
the serving ensemble first when it is not in it.

- Some peer serves: its membership is the truth, once checked: every server in it must be a pod of
  this StatefulSet as zkboot writes it, and so must the peer (else the start is refused, nothing
  written: a process answering on a peer's address could otherwise name the ensemble's members,
  zkboot.ensemble.config.check_members).  Listed there (same address): start with it.  Not
  listed: add this member with one ``reconfig`` as the super user, then start with the
  configuration that committed.  Several new pods take turns (ZooKeeper runs one at a time).
- Nobody serves: this member's own last configuration (a whole-ensemble restart); else, on a first
  boot, the initial list (pods 0..servers-1); else (a new pod beyond them) wait: exit 1, and
  Kubernetes retries until the ensemble serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zkboot.client.access import Access
from zkboot.client.session import read_config, reconfigure
from zkboot.ensemble.config import (
    INITIAL_NAME,
    Server,
    check_members,
    config_version,
    dynamic_file_name,
    dynamic_line,
    dynamic_text,
    local_config,
    parse_config,
    planned,
)
from zkboot.ensemble.peers import serving_hosts
from zkboot.errors import EnvironmentProblem, NotAuthorized, QueryError
from zkboot.identity import Identity

JOIN_ATTEMPTS = 40  # reconfigurations are one at a time: pods that start together take turns
JOIN_PAUSE = 0.25  # seconds between attempts (the attempts are bounded in count and in time)
JOIN_SECONDS = 30.0
RECONFIG_GRACE = 2.0  # seconds beyond the peer deadline for a reconfiguration to commit


@dataclass(frozen=True, slots=True)
class Decision:
    """The dynamic configuration a start runs with."""

    name: str  # its file name in the state dir
    text: str | None  # the text to write there; None: the file is ZooKeeper's own, kept as it is
    note: str  # for the progress line


def first_boot(identity: Identity, quorum_port: int, election_port: int, listen: str) -> Decision:
    """The initial list, pods 0..servers-1: what a first boot starts with, and what ``render`` shows."""
    initial = planned(identity, quorum_port, election_port)
    return Decision(INITIAL_NAME, dynamic_text(initial, listen), f"first boot: the initial {len(initial)} servers")


def decide(
    identity: Identity,
    quorum_port: int,
    election_port: int,
    access: Access,
    state_dir: Path,
    password: str,
    timeout: float,
) -> Decision:
    """Which configuration to start with; may commit a ``reconfig`` that adds this member."""
    me = Server(identity.myid, identity.fqdn.lower(), quorum_port, election_port)
    local = local_config(state_dir)
    if local is not None:  # written by ZooKeeper, but from what a peer once said: asked again below
        check_members(local[1], identity, quorum_port, election_port, str(state_dir / local[0]), peer=False)
    ordinals = range(max(len(identity.members), identity.ordinal + 1))
    peers = [identity.pod_host(i) for i in ordinals if i != identity.ordinal]
    peers += [s.host for s in (local[1] if local else ()) if s.host not in peers and s.myid != me.myid]

    def checked(text: str, host: str) -> tuple[Server, ...]:
        return check_members(parse_config(text), identity, quorum_port, election_port, host)

    up = serving_hosts(peers, access, timeout)
    if up:
        return _with_serving(me, up, access, password, timeout, checked)
    if local is not None:
        return Decision(local[0], None, f"nobody serves: starting with this member's last configuration ({local[0]})")
    if any(m.myid == me.myid for m in identity.members):
        return first_boot(identity, quorum_port, election_port, access.listen)
    raise EnvironmentProblem(
        f"no member of the ensemble serves, and {identity.hostname} (myid {me.myid}) is not one of the initial "
        f"{len(identity.members)} servers: a new member joins a serving ensemble (expected one to serve; "
        "Kubernetes retries this start)"
    )


def _with_serving(
    me: Server,
    up: list[str],
    access: Access,
    password: str,
    timeout: float,
    checked: Callable[[str, str], tuple[Server, ...]],
) -> Decision:
    deadline = time.monotonic() + JOIN_SECONDS
    problems: list[str] = []
    for attempt in range(JOIN_ATTEMPTS):
        host = up[attempt % len(up)]
        try:
            text = read_config(host, access, timeout)
        except QueryError as exc:
            problems.append(f"{host}: {exc.detail}")
        else:
            servers, version = checked(text, host), config_version(text)
            if me in servers:
                return Decision(
                    dynamic_file_name(version),
                    dynamic_text(servers, access.listen),
                    f"a member of the serving ensemble ({len(servers)} servers, read from {host})",
                )
            if any(s.myid == me.myid for s in servers):
                listed = next(s for s in servers if s.myid == me.myid)
                raise EnvironmentProblem(
                    f"the ensemble serving at {host} lists {listed} but this member is {me}; expected the "
                    "same address (remove the old entry with zkboot shrink first)"
                )
            try:
                committed = reconfigure(
                    host, access, password, timeout + RECONFIG_GRACE,
                    joining=dynamic_line(me, access.listen), from_version=-1 if version is None else version,
                )  # fmt: skip
            except NotAuthorized:
                raise EnvironmentProblem(
                    f"{host} refused the reconfiguration as the super user: expected every member to "
                    "have the same --super-password-file / ZK_SUPER_PASSWORD_FILE, and to run a zkboot "
                    "that lets the super user in by SASL (roll the members first)"
                ) from None
            except QueryError as exc:
                problems.append(f"{host}: {exc.detail}")
            else:
                servers, version = checked(committed, host), config_version(committed)
                if me in servers:
                    note = f"joined: {len(servers)} servers now, through {host}"
                    return Decision(dynamic_file_name(version), dynamic_text(servers, access.listen), note)
        if time.monotonic() + JOIN_PAUSE > deadline:
            break
        time.sleep(JOIN_PAUSE)  # another member's reconfiguration is in progress: take turns
    raise EnvironmentProblem(
        f"could not join the serving ensemble in {JOIN_SECONDS:g}s ({problems[-1] if problems else 'no answer'}); "
        "expected a serving majority (Kubernetes retries this start)"
    )

"""Who is in the ensemble: reading a membership, the start's guard (static) and join (dynamic).

Static membership: a start never writes a server list that differs from a serving ensemble's.

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

from pathlib import Path

from zkboot.client.access import Access
from zkboot.client.parallel import ask_all
from zkboot.client.session import read_config
from zkboot.errors import EnvironmentProblem, QueryError
from zkboot.record import Record
from zkboot.start.identity import Identity


class Server(Record):
    """One ``server.N=host:quorum:election`` entry (its role and client address aside)."""

    __slots__ = ("election_port", "host", "myid", "quorum_port")
    myid: int
    host: str
    quorum_port: int
    election_port: int

    def __init__(self, myid: int, host: str, quorum_port: int, election_port: int) -> None:
        self.myid, self.host, self.quorum_port, self.election_port = myid, host, quorum_port, election_port

    def __lt__(self, other: Server) -> bool:  # sorted by myid, then the rest
        return (self.myid, self.host, self.quorum_port, self.election_port) < (
            other.myid,
            other.host,
            other.quorum_port,
            other.election_port,
        )

    def __str__(self) -> str:
        return f"server.{self.myid}={self.host}:{self.quorum_port}:{self.election_port}"


def parse_config(text: str) -> tuple[Server, ...]:
    """The servers of a ``/zookeeper/config`` text (``server.N=host:p:p[:role][;client]`` lines)."""
    servers = []
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or not key.startswith("server.") or not key[7:].isdigit():
            continue
        address = value.split(";", 1)[0]
        if address.startswith("["):  # an IPv6 address: [::1]:2888:3888
            host, _, rest = address[1:].partition("]")
            ports = rest.split(":")[1:]
        else:
            host, *ports = address.split(":")
        if len(ports) >= 2 and ports[0].isdigit() and ports[1].isdigit():
            servers.append(Server(int(key[7:]), host.lower(), int(ports[0]), int(ports[1])))
    return tuple(sorted(servers))


def planned(identity: Identity, quorum_port: int, election_port: int) -> tuple[Server, ...]:
    return tuple(Server(m.myid, m.host.lower(), quorum_port, election_port) for m in identity.members)


def describe(servers: tuple[Server, ...]) -> str:
    return ",".join(str(s) for s in servers) or "(none)"


def serving_hosts(hosts: list[str], access: Access, timeout: float) -> list[str]:
    """Those of ``hosts`` whose server serves (``srvr``), all asked at once under one deadline."""

    def serving(host: str) -> bool:
        try:
            return access.endpoint(host, timeout).srvr().serving
        except QueryError:
            return False

    return [host for host, yes in zip(hosts, ask_all(hosts, serving, timeout + 0.2), strict=True) if yes]


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

    answers = ask_all(up, membership, timeout + 0.5)
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


# -- dynamic membership (ZooKeeper 3.5.3+) -----------------------------------------------------------

STATE_DIR = "membership"  # under the data dir: ZooKeeper's own zoo.cfg and zoo.cfg.dynamic.<version>
INITIAL_NAME = "zoo.cfg.dynamic"  # a first boot's list; ZooKeeper names its own after their version
JOIN_ATTEMPTS = 40  # reconfigurations are one at a time: pods that start together take turns
JOIN_PAUSE = 0.25  # seconds between attempts (the attempts are bounded in count and in time)
JOIN_SECONDS = 30.0
SETTLE_ATTEMPTS = 60  # shrink: how often to ask whether a reconfiguration whose answer was lost committed
SETTLE_SECONDS = 15.0


def dynamic_line(server: Server, listen: str) -> str:
    return f"{server}:participant;{listen}"


def dynamic_text(servers: tuple[Server, ...], listen: str) -> str:
    return "".join(dynamic_line(s, listen) + "\n" for s in sorted(servers))


def config_version(text: str) -> int | None:
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key == "version":
            try:
                return int(value, 16)
            except ValueError:
                return None
    return None


def local_config(state_dir: Path) -> tuple[str, tuple[Server, ...]] | None:
    """The configuration this member last ran with: the file ZooKeeper's own zoo.cfg names."""
    try:
        static = (state_dir / "zoo.cfg").read_text(errors="replace")
    except OSError:
        return None
    for line in static.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key == "dynamicConfigFile":
            path = Path(value.strip())
            if path.parent == state_dir and path.is_file():
                servers = parse_config(path.read_text(errors="replace"))
                return (path.name, servers) if servers else None
    return None


class Decision(Record):
    """The dynamic configuration a start runs with."""

    __slots__ = ("name", "note", "text")
    name: str  # its file name in the state dir
    text: str | None  # the text to write there; None: the file is ZooKeeper's own, kept as it is
    note: str  # for the progress line

    def __init__(self, name: str, text: str | None, note: str) -> None:
        self.name, self.text, self.note = name, text, note


def decide_dynamic(
    identity: Identity,
    quorum_port: int,
    election_port: int,
    access: Access,
    state_dir: Path,
    password: str,
    timeout: float,
) -> Decision:
    """Which configuration to start with, joining the serving ensemble first when this member is new.

    - some peer serves: its membership is the truth.  Listed there (same address): start with it.
      Not listed: add this member with one ``reconfig`` (as the super user), then start with the
      configuration that committed.  Several new pods take turns (ZooKeeper runs one at a time).
    - nobody serves: this member's own last configuration (a whole-ensemble restart); else, on a
      first boot, the initial list (pods 0..servers-1); else (a new pod beyond them) wait: exit 1,
      and Kubernetes retries until the ensemble serves.
    """
    me = Server(identity.myid, identity.fqdn.lower(), quorum_port, election_port)
    local = local_config(state_dir)
    ordinals = range(max(len(identity.members), identity.ordinal + 1))
    peers = [identity.pod_host(i) for i in ordinals if i != identity.ordinal]
    peers += [s.host for s in (local[1] if local else ()) if s.host not in peers and s.myid != me.myid]

    up = serving_hosts(peers, access, timeout)
    if up:
        return _with_serving(me, up, access, password, timeout)
    if local is not None:
        return Decision(local[0], None, f"nobody serves: starting with this member's last configuration ({local[0]})")
    if any(m.myid == me.myid for m in identity.members):
        initial = planned(identity, quorum_port, election_port)
        return Decision(
            INITIAL_NAME, dynamic_text(initial, access.listen), f"first boot: the initial {len(initial)} servers"
        )
    raise EnvironmentProblem(
        f"no member of the ensemble serves, and {identity.hostname} (myid {me.myid}) is not one of the initial "
        f"{len(identity.members)} servers: a new member joins a serving ensemble (expected one to serve; "
        "Kubernetes retries this start)"
    )


def _committed(servers: tuple[Server, ...], version: int | None, listen: str, note: str) -> Decision:
    """A configuration the ensemble committed, in a file named as ZooKeeper names its own."""
    name = f"{INITIAL_NAME}.{version:x}" if version is not None else INITIAL_NAME
    return Decision(name, dynamic_text(servers, listen), note)


def _with_serving(me: Server, up: list[str], access: Access, password: str, timeout: float) -> Decision:
    import time

    from zkboot.client.session import reconfigure

    deadline = time.monotonic() + JOIN_SECONDS
    problems: list[str] = []
    for attempt in range(JOIN_ATTEMPTS):
        host = up[attempt % len(up)]
        try:
            text = read_config(host, access, timeout)
        except QueryError as exc:
            problems.append(f"{host}: {exc.detail}")
        else:
            servers, version = parse_config(text), config_version(text)
            if me in servers:
                name = f"{INITIAL_NAME}.{version:x}" if version is not None else INITIAL_NAME
                return Decision(
                    name,
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
                    host, access, password, timeout + 2.0,
                    joining=dynamic_line(me, access.listen), from_version=-1 if version is None else version,
                )  # fmt: skip
            except QueryError as exc:
                problems.append(f"{host}: {exc.detail}")
                if "NoAuth" in exc.detail:
                    raise EnvironmentProblem(
                        f"{host} refused the reconfiguration as the super user: expected every member to "
                        "have the same --super-password-file / ZK_SUPER_PASSWORD_FILE"
                    ) from None
            else:
                servers, version = parse_config(committed), config_version(committed)
                if me in servers:
                    name = f"{INITIAL_NAME}.{version:x}" if version is not None else INITIAL_NAME
                    note = f"joined: {len(servers)} servers now, through {host}"
                    return Decision(name, dynamic_text(servers, access.listen), note)
        if time.monotonic() + JOIN_PAUSE > deadline:
            break
        time.sleep(JOIN_PAUSE)  # another member's reconfiguration is in progress: take turns
    raise EnvironmentProblem(
        f"could not join the serving ensemble in {JOIN_SECONDS:g}s ({problems[-1] if problems else 'no answer'}); "
        "expected a serving majority (Kubernetes retries this start)"
    )


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
    import socket

    def missing(server: Server) -> bool:
        try:
            socket.getaddrinfo(server.host, None)
        except socket.gaierror:
            return True
        return False

    return [s for s, gone in zip(servers, ask_all(list(servers), missing, 2.0), strict=True) if gone]


def _settled(
    staying: tuple[Server, ...], leaving: list[Server], access: Access, timeout: float
) -> tuple[Server, ...] | None:
    """The membership once none of ``leaving`` is in it, as a member that stays tells it; None
    when no member says so within SETTLE_SECONDS (polled; bounded in count and in time)."""
    import time

    deadline = time.monotonic() + SETTLE_SECONDS
    for _ in range(SETTLE_ATTEMPTS):
        found = read_membership([s.host for s in staying], access, timeout)
        if found is not None:
            servers = parse_config(found[0])
            if not any(s in servers for s in leaving):
                return servers
        if time.monotonic() + JOIN_PAUSE > deadline:
            break
        time.sleep(JOIN_PAUSE)
    return None


def shrink(identity: Identity, replicas: int, offset: int, access: Access, password: str, timeout: float) -> str:
    """Remove the members with ordinal >= ``replicas`` (one ``reconfig``), wait for a write to commit
    under the new configuration, and say who is left.  A no-op when none is listed; refused (one
    line) when the members left could not form a quorum."""
    from zkboot.client.session import check_write, reconfigure

    hosts = [identity.fqdn, *(identity.pod_host(i) for i in range(replicas) if identity.pod_host(i) != identity.fqdn)]
    found = read_membership(hosts, access, timeout)
    if found is None:
        raise EnvironmentProblem(
            f"no serving member among {', '.join(hosts)} told its membership; expected the ensemble to serve"
        )
    text, source = found
    servers = parse_config(text)
    leaving = [s for s in servers if s.myid - offset >= replicas]
    staying = tuple(s for s in servers if s not in leaving)
    if not leaving:
        return f"nothing to remove: {len(servers)} servers ({describe(servers)})"
    if not staying:
        raise EnvironmentProblem(f"--replicas {replicas} would remove every member; expected at least one to stay")

    up = len(serving_hosts([s.host for s in staying], access, timeout))
    need = len(staying) // 2 + 1
    if up < need:
        raise EnvironmentProblem(
            f"of the {len(staying)} members that would stay, {up} serve and {need} are needed for a quorum; "
            "refusing to remove " + ", ".join(f"server.{s.myid}" for s in leaving)
        )
    version = config_version(text)
    try:
        left = parse_config(reconfigure(
            source, access, password, timeout + 5.0,
            leaving=",".join(str(s.myid) for s in leaving), from_version=-1 if version is None else version,
        ))  # fmt: skip
    except QueryError as exc:
        # A leader that is among those removed steps down once the change commits, and its clients
        # lose their connection before the answer: ask the members that stay what committed.
        settled = _settled(staying, leaving, access, timeout)
        if settled is None:
            raise EnvironmentProblem(
                f"the reconfiguration did not commit ({exc.detail}); nothing was removed"
            ) from None
        left = settled
    check_write(staying[0].host, access, timeout + 5.0)
    return f"removed {', '.join(f'server.{s.myid}' for s in leaving)}; {len(left)} servers left: {describe(left)}"

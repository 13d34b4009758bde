"""A membership as ZooKeeper writes it, and where a member keeps its own.

ZooKeeper lists its servers as ``server.N=host:quorum:election[:role][;client]`` lines, in zoo.cfg
(static membership) or in a dynamic configuration file and ``/zookeeper/config`` (ZooKeeper 3.5+),
whose ``version=`` line names the configuration.  With dynamic membership a member keeps its
configuration in the state dir on its volume: ZooKeeper's own zoo.cfg and the
``zoo.cfg.dynamic.<version>`` file it names, both rewritten by ZooKeeper at every reconfiguration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zkboot.client.endpoint import printable
from zkboot.errors import ForeignMembership
from zkboot.identity import Identity

STATE_DIR = "membership"  # under the data dir: ZooKeeper's own zoo.cfg and zoo.cfg.dynamic.<version>
INITIAL_NAME = "zoo.cfg.dynamic"  # a first boot's list; ZooKeeper names its own after their version
MAX_SERVERS = 255  # one per myid: a configuration listing more is refused, whatever it says


@dataclass(frozen=True, slots=True, order=True)
class Server:
    """One ``server.N=host:quorum:election`` entry (its role and client address aside), ordered by
    myid, then host and ports."""

    myid: int
    host: str
    quorum_port: int
    election_port: int

    def __str__(self) -> str:
        return f"server.{self.myid}={printable(self.host, 80)}:{self.quorum_port}:{self.election_port}"


def parse_config(text: str) -> tuple[Server, ...]:
    """The servers of a configuration's text, sorted (lines other than ``server.N=...`` are skipped)."""
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


def config_version(text: str) -> int | None:
    """The ``version=`` (hexadecimal) of a dynamic configuration's text."""
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key == "version":
            try:
                return int(value, 16)
            except ValueError:
                return None
    return None


def planned(identity: Identity, quorum_port: int, election_port: int) -> tuple[Server, ...]:
    """The servers this pod's settings list: pods 0..servers-1 of its StatefulSet."""
    return tuple(Server(m.myid, m.host.lower(), quorum_port, election_port) for m in identity.members)


def check_members(
    servers: tuple[Server, ...],
    identity: Identity,
    quorum_port: int,
    election_port: int,
    source: str,
    *,
    peer: bool = True,
) -> tuple[Server, ...]:
    """``servers`` when every one is a pod of this StatefulSet as zkboot writes it (host
    ``<name>-<n>.<domain>``, myid ``n`` + the offset, this start's quorum and election ports), one
    each, and (``peer``) the host ``source`` they were read from is such a pod; else ForeignMembership
    (``source``: that host, or the file on this pod's volume).  A peer answers what it likes: this
    is all that stands between a forged list and the zoo.cfg ZooKeeper follows."""
    offset = identity.myid - identity.ordinal
    problems = []
    if not servers:
        problems.append("no server line")
    elif len(servers) > MAX_SERVERS:
        problems.append(f"{len(servers)} servers, more than the {MAX_SERVERS} myids")
    elif len({s.myid for s in servers}) != len(servers):
        problems.append("a myid listed twice")
    for server in servers[:MAX_SERVERS]:
        ordinal = server.myid - offset
        expected = Server(server.myid, identity.pod_host(ordinal).lower(), quorum_port, election_port)
        if ordinal < 0 or server != expected:
            problems.append(f"{server} where {expected if ordinal >= 0 else f'myids from {offset}'} was expected")
            break
    if not problems and peer and not is_pod(source, identity):
        problems.append(f"it came from {printable(source, 300)}, not a pod of StatefulSet {identity.name}")
    if problems:
        raise ForeignMembership(
            f"the membership from {printable(source, 300)} is refused: {problems[0]}; expected only pods "
            f"{identity.pod_host(0)}, {identity.pod_host(1)}, ... with myid {offset} + ordinal and ports "
            f"{quorum_port}:{election_port}"
        )
    return servers


def is_pod(host: str, identity: Identity) -> bool:
    """``host`` is the name of a pod of this StatefulSet (``<name>-<n>.<domain>``)."""
    name, _, domain = host.lower().partition(".")
    prefix = f"{identity.name}-".lower()
    if domain != identity.domain.lower() or not name.startswith(prefix):
        return False
    digits = name[len(prefix) :]
    return digits.isdigit() and digits == str(int(digits))


def describe(servers: tuple[Server, ...]) -> str:
    return ",".join(str(s) for s in servers) or "(none)"


def dynamic_line(server: Server, listen: str) -> str:
    """A participant's line of a dynamic configuration; ``listen``: its client address and port."""
    return f"{server}:participant;{listen}"


def dynamic_text(servers: tuple[Server, ...], listen: str) -> str:
    return "".join(dynamic_line(s, listen) + "\n" for s in sorted(servers))


def dynamic_file_name(version: int | None) -> str:
    """The name of a dynamic configuration file, as ZooKeeper names its own after their version."""
    return f"{INITIAL_NAME}.{version:x}" if version is not None else INITIAL_NAME


def local_config(state_dir: Path) -> tuple[str, tuple[Server, ...]] | None:
    """The configuration this member last ran with (its file name, its servers): the file
    ZooKeeper's own zoo.cfg in the state dir names."""
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

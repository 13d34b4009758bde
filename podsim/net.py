"""The pod network: one bridge, one network namespace per pod, no route beyond the bridge.

Names carry the run id so two runs never collide: bridge ``zb<run>``, namespaces
``zkbsim-<run>-<ordinal>``, veth pairs ``zb<run>h<ordinal>`` (host side) / ``eth0`` (pod side).
The subnet is ``10.251.<n>.0/24`` with ``n`` from the run id, checked free; the host end of the
bridge is ``.254`` so that tests on the host reach the pods, and pods get ``.1``, ``.2``, ...
Pods have no default route: they reach each other and the host's bridge address, nothing else.
MAC addresses are made from the IP addresses (``mac_of``): a pod recreated after a scale-down gets
its old MAC with its old address, so no neighbour cache on the bridge holds a stale one.

``leftovers()`` finds every name of that form, by run id, for the removal of runs whose owner
died without its cleanup (podsim/runs.py).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

NETNS_ETC = Path("/etc/netns")
RUN_ID = "[0-9a-f]{6}"  # secrets.token_hex(3): keeps ``zb<run>h<ordinal>`` within 15 characters
NAMESPACE_NAME = re.compile(rf"zkbsim-({RUN_ID})-[0-9]+")
LINK_NAME = re.compile(rf"zb({RUN_ID})(?:h[0-9]+)?")


class NetError(Exception):
    pass


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=False)
    if check and result.returncode != 0:
        raise NetError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def used_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = ip("-4", "-o", "addr", "show").stdout
    nets = []
    for line in out.splitlines():
        for word in line.split():
            if "/" in word and word[0].isdigit():
                nets.append(ipaddress.ip_interface(word).network)
    return nets


def choose_subnet(run_id: str) -> ipaddress.IPv4Network:
    used = used_networks()
    start = int(run_id, 16) % 200
    for step in range(200):
        candidate = ipaddress.IPv4Network(f"10.251.{(start + step) % 200 + 20}.0/24")
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise NetError("no free /24 in 10.251.0.0/16 for the pod network")


def mac_of(address: str) -> str:
    """A locally administered unicast MAC address made of an IPv4 address: 02:7a:<its 4 octets>."""
    return "02:7a:" + ":".join(f"{octet:02x}" for octet in ipaddress.IPv4Address(address).packed)


@dataclass
class Names:
    """What one run made that carries its id: namespaces, links (veths, bridge), /etc/netns entries."""

    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    etc_entries: list[str] = field(default_factory=list)


def leftovers() -> dict[str, Names]:
    """Every namespace, link and /etc/netns entry named as podsim names them, by run id."""
    found: dict[str, Names] = {}
    for line in ip("netns", "list").stdout.splitlines():
        words = line.split()
        if words and (match := NAMESPACE_NAME.fullmatch(words[0])):
            found.setdefault(match.group(1), Names()).namespaces.append(words[0])
    for link in json.loads(ip("-j", "link", "show").stdout or "[]"):
        name = str(link.get("ifname", ""))
        if match := LINK_NAME.fullmatch(name):
            found.setdefault(match.group(1), Names()).links.append(name)
    if NETNS_ETC.is_dir():
        for entry in NETNS_ETC.iterdir():
            if match := NAMESPACE_NAME.fullmatch(entry.name):
                found.setdefault(match.group(1), Names()).etc_entries.append(entry.name)
    return found


def remove(names: Names) -> None:
    """Delete the namespaces (their veth ends go with them), the links left, the /etc/netns entries."""
    for ns in names.namespaces:
        ip("netns", "del", ns, check=False)
    # The veths before the bridge they are enslaved to; each may be gone with its namespace.
    for link in sorted(names.links, key=len, reverse=True):
        ip("link", "del", link, check=False)
    for entry in names.etc_entries:
        shutil.rmtree(NETNS_ETC / entry, ignore_errors=True)


class Network:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.bridge = f"zb{run_id}"
        self.subnet = choose_subnet(run_id)
        self.namespaces: dict[int, str] = {}
        self.created_bridge = False

    @property
    def host_address(self) -> str:
        return str(self.subnet.network_address + 254)

    def address(self, ordinal: int) -> str:
        return str(self.subnet.network_address + ordinal + 1)

    def mac(self, ordinal: int) -> str:
        """Pod ``ordinal``'s eth0 address, the same each time its namespace is made: a pod that
        comes back after a scale-down keeps its IP, and with a new MAC the host and the other pods
        would send to the old one from their neighbour caches (for up to half a minute)."""
        return mac_of(self.address(ordinal))

    def namespace(self, ordinal: int) -> str:
        return f"zkbsim-{self.run_id}-{ordinal}"

    def create_bridge(self) -> None:
        # A MAC of its own: a bridge otherwise takes its ports' lowest, which changes (flushing the
        # host's neighbour entries) or not as pods come and go, depending on their random MACs.
        ip("link", "add", self.bridge, "address", mac_of(self.host_address), "type", "bridge")
        self.created_bridge = True
        ip("addr", "add", f"{self.host_address}/{self.subnet.prefixlen}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def add_pod(self, ordinal: int) -> str:
        """A namespace for pod ``ordinal`` with eth0 on the bridge and lo up; its name."""
        ns = self.namespace(ordinal)
        host_end = f"zb{self.run_id}h{ordinal}"
        ip("netns", "add", ns)
        self.namespaces[ordinal] = ns
        (NETNS_ETC / ns).mkdir(parents=True, exist_ok=True)
        # No nameserver: a name not in /etc/hosts fails at once instead of waiting on DNS.
        (NETNS_ETC / ns / "resolv.conf").write_text("options timeout:1 attempts:1\n")
        (NETNS_ETC / ns / "hosts").write_text("127.0.0.1 localhost\n")
        ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "address", self.mac(ordinal), "netns", ns)
        ip("link", "set", host_end, "master", self.bridge)
        ip("link", "set", host_end, "up")
        ip("-n", ns, "addr", "add", f"{self.address(ordinal)}/{self.subnet.prefixlen}", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def remove_pod(self, ordinal: int) -> None:
        ns = self.namespaces.pop(ordinal, None)
        if ns is None:
            return
        ip("netns", "del", ns, check=False)  # takes the veth pair with it
        ip("link", "del", f"zb{self.run_id}h{ordinal}", check=False)
        for name in ("hosts", "resolv.conf"):
            (NETNS_ETC / ns / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (NETNS_ETC / ns).rmdir()

    def write_hosts(self, entries: dict[int, str]) -> None:
        """Every pod's /etc/hosts: localhost plus ``entries`` (ordinal -> FQDN and short name).

        Written in place, not replaced: ``ip netns exec`` bind-mounts the file, so a new inode
        would go unseen by running pods.
        """
        lines = ["127.0.0.1 localhost"]
        lines += [f"{self.address(i)} {names}" for i, names in sorted(entries.items())]
        text = "\n".join(lines) + "\n"
        for ns in self.namespaces.values():
            with (NETNS_ETC / ns / "hosts").open("r+") as handle:
                handle.truncate(0)
                handle.write(text)

    def close(self) -> None:
        for ordinal in list(self.namespaces):
            self.remove_pod(ordinal)
        if self.created_bridge:
            ip("link", "del", self.bridge, check=False)
            self.created_bridge = False

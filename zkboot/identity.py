"""Who this pod is: StatefulSet name, ordinal, myid, domain, and the ensemble's server list.

A StatefulSet pod ``<name>-<ordinal>`` has that hostname and the FQDN
``<name>-<ordinal>.<service>.<namespace>.svc.<cluster-domain>`` in its /etc/hosts.

Where the domain comes from, first match wins:
1. the domain setting (``--domain`` / ``ZK_DOMAIN``);
2. the hostname setting, when it is fully qualified (``--hostname zk-1.zk-hs.ns.svc.cluster.local``);
3. the system's FQDN (what ``hostname -f`` prints), when the hostname is not overridden.
A short hostname override with no domain gives an empty domain, which is fine standalone and an
error with more than one server.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from zkboot.errors import UsageError
from zkboot.settings.schema import Settings

ORDINAL_PATTERN = re.compile(r"^(?P<name>.*[^-])-(?P<ordinal>[0-9]+)$")


@dataclass(frozen=True, slots=True)
class Member:
    myid: int
    host: str  # fully qualified, or the short name standalone without a domain

    def server_line(self, server_port: int, election_port: int) -> str:
        return f"server.{self.myid}={self.host}:{server_port}:{election_port}"


@dataclass(frozen=True, slots=True)
class Identity:
    hostname: str  # short
    name: str  # the StatefulSet's name
    ordinal: int
    myid: int
    domain: str  # "" when unknown
    members: tuple[Member, ...]  # every server of the ensemble, by myid; empty standalone

    @property
    def fqdn(self) -> str:
        return f"{self.hostname}.{self.domain}" if self.domain else self.hostname

    def pod_host(self, ordinal: int) -> str:
        """The name pod ``ordinal`` of the same StatefulSet has (as the headless Service gives it)."""
        return f"{self.name}-{ordinal}.{self.domain}" if self.domain else f"{self.name}-{ordinal}"


@dataclass(frozen=True, slots=True)
class SystemNames:
    """The names the system gives this machine (read once, at the edge)."""

    hostname: str
    fqdn: str


def read_system_names() -> SystemNames:
    """The short hostname and the canonical FQDN as /etc/hosts (or DNS) gives them."""
    hostname = socket.gethostname().strip().lower()
    short = hostname.split(".")[0]
    fqdn = hostname
    try:
        # The canonical name is the first name on the host's /etc/hosts line, as hostname -f.
        infos = socket.getaddrinfo(hostname, None, 0, socket.SOCK_STREAM, 0, socket.AI_CANONNAME)
        canonical = infos[0][3].strip().rstrip(".").lower() if infos else ""
        if canonical.split(".")[0] == short:
            fqdn = canonical
    except OSError:
        pass
    return SystemNames(hostname=short, fqdn=fqdn)


def derive(settings: Settings, system: SystemNames | None) -> Identity:
    """Derive the identity from the settings, and from the system names when not overridden.

    ``system`` may be None when the hostname is overridden; it is then never consulted.
    """
    if settings.hostname:
        given, source = settings.hostname, settings.label("hostname")
        short, _, host_domain = given.partition(".")
    else:
        if system is None:
            raise UsageError("no hostname: pass --hostname or set ZK_HOSTNAME")
        given, source = system.hostname, "the system hostname"
        short = system.hostname
        fqdn_short, _, host_domain = system.fqdn.partition(".")
        if fqdn_short != short:
            host_domain = ""
    domain = settings.domain or host_domain

    match = ORDINAL_PATTERN.match(short)
    if not match:
        raise UsageError(f"{source}={given!r} has no StatefulSet ordinal; expected <name>-<ordinal> such as zk-0")
    name, digits = match.group("name"), match.group("ordinal")
    if len(digits) > 1 and digits.startswith("0"):
        raise UsageError(
            f"{source}={given!r}: ordinal {digits!r} has a leading zero; expected one as a "
            "StatefulSet numbers pods (zk-0, zk-1, ..., zk-10)"
        )
    ordinal = int(digits)
    dynamic = settings.membership == "dynamic"
    # Dynamic membership: a pod beyond the initial servers (kubectl scale) joins by reconfiguration.
    if ordinal >= settings.servers and not dynamic:
        raise UsageError(
            f"{source}={given!r} is ordinal {ordinal} but {settings.label('servers')}="
            f"{settings.servers}; expected an ordinal from 0 to {settings.servers - 1}"
        )
    last_myid = max(settings.servers - 1, ordinal) + settings.myid_offset
    if settings.myid_offset < 1 or last_myid > 255:
        raise UsageError(
            f"{settings.label('myid_offset')}={settings.myid_offset} with {settings.servers} "
            f"servers gives myids {settings.myid_offset}..{last_myid}; expected ids from 1 to 255"
        )
    members: tuple[Member, ...] = ()
    if settings.servers > 1 or dynamic:
        if not domain:
            raise UsageError(
                f"{source}={given!r} has no domain and {settings.label('servers')}="
                f"{settings.servers}; expected an FQDN such as {short}.zk-hs.default.svc.cluster.local "
                "in /etc/hosts, or --domain / ZK_DOMAIN"
            )
        members = tuple(
            Member(myid=i + settings.myid_offset, host=f"{name}-{i}.{domain}") for i in range(settings.servers)
        )
    return Identity(
        hostname=short,
        name=name,
        ordinal=ordinal,
        myid=ordinal + settings.myid_offset,
        domain=domain,
        members=members,
    )

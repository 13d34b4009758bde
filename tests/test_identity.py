"""Table-driven tests of ``zkboot.start.identity.derive``: StatefulSet name, ordinal, myid, domain, members."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import pytest

from zkboot.errors import UsageError
from zkboot.identity import SystemNames, derive, read_system_names
from zkboot.settings.resolve import resolve


@dataclass(frozen=True)
class Case:
    id: str
    flags: dict[str, str]
    system: SystemNames | None
    name: str
    ordinal: int
    myid: int
    domain: str
    hosts: tuple[str, ...] = ()  # every member's host, in myid order; empty standalone
    myids: tuple[int, ...] = ()
    environ: dict[str, str] = field(default_factory=dict)


CASES = [
    Case(
        "system-fqdn-3-servers",
        {"servers": "3"},
        SystemNames("zk-0", "zk-0.zk-hs.default.svc.cluster.local"),
        "zk",
        0,
        1,
        "zk-hs.default.svc.cluster.local",
        ("zk-0.zk-hs.default.svc.cluster.local", "zk-1.zk-hs.default.svc.cluster.local",
         "zk-2.zk-hs.default.svc.cluster.local"),
        (1, 2, 3),
    ),
    Case(
        "several-dashes-ordinal-12",
        {"servers": "13"},
        SystemNames("my-zk-cluster-12", "my-zk-cluster-12.zk-hs.default.svc.cluster.local"),
        "my-zk-cluster",
        12,
        13,
        "zk-hs.default.svc.cluster.local",
        tuple(f"my-zk-cluster-{i}.zk-hs.default.svc.cluster.local" for i in range(13)),
        tuple(range(1, 14)),
    ),
    Case(
        "ordinal-10",
        {"servers": "11"},
        SystemNames("zk-10", "zk-10.zk-hs.ns.svc.cluster.local"),
        "zk",
        10,
        11,
        "zk-hs.ns.svc.cluster.local",
        tuple(f"zk-{i}.zk-hs.ns.svc.cluster.local" for i in range(11)),
        tuple(range(1, 12)),
    ),
    Case(
        "custom-cluster-domain",
        {"servers": "2"},
        SystemNames("kafka-zk-1", "kafka-zk-1.kafka-zk-hs.prod.svc.k8s.example.org"),
        "kafka-zk",
        1,
        2,
        "kafka-zk-hs.prod.svc.k8s.example.org",
        ("kafka-zk-0.kafka-zk-hs.prod.svc.k8s.example.org", "kafka-zk-1.kafka-zk-hs.prod.svc.k8s.example.org"),
        (1, 2),
    ),
    Case(
        "fqdn-as-hostname-flag",
        {"servers": "3", "hostname": "zok-2.zk-hs.default.svc.cluster.local"},
        None,
        "zok",
        2,
        3,
        "zk-hs.default.svc.cluster.local",
        ("zok-0.zk-hs.default.svc.cluster.local", "zok-1.zk-hs.default.svc.cluster.local",
         "zok-2.zk-hs.default.svc.cluster.local"),
        (1, 2, 3),
    ),
    Case(
        "fqdn-as-hostname-env-trailing-dot-uppercase",
        {"servers": "2"},
        None,
        "zok",
        1,
        2,
        "zk-hs.default.svc.cluster.local",
        ("zok-0.zk-hs.default.svc.cluster.local", "zok-1.zk-hs.default.svc.cluster.local"),
        (1, 2),
        {"ZK_HOSTNAME": "ZOK-1.zk-hs.default.svc.cluster.local."},
    ),
    Case(
        "domain-overrides-hostname-fqdn",
        {"servers": "2", "hostname": "zk-1.wrong.svc.cluster.local", "domain": "zk-hs.right.svc.cluster.local"},
        None,
        "zk",
        1,
        2,
        "zk-hs.right.svc.cluster.local",
        ("zk-0.zk-hs.right.svc.cluster.local", "zk-1.zk-hs.right.svc.cluster.local"),
        (1, 2),
    ),
    Case(
        "domain-overrides-system-fqdn",
        {"servers": "2"},
        SystemNames("zk-0", "zk-0.old.svc.cluster.local"),
        "zk",
        0,
        1,
        "new.svc.cluster.local",
        ("zk-0.new.svc.cluster.local", "zk-1.new.svc.cluster.local"),
        (1, 2),
        {"ZK_DOMAIN": ".new.svc.cluster.local."},
    ),
    Case(
        "domain-with-short-hostname-flag",
        {"servers": "3", "hostname": "zk-1", "domain": "zk-hs.default.svc.cluster.local"},
        None,
        "zk",
        1,
        2,
        "zk-hs.default.svc.cluster.local",
        ("zk-0.zk-hs.default.svc.cluster.local", "zk-1.zk-hs.default.svc.cluster.local",
         "zk-2.zk-hs.default.svc.cluster.local"),
        (1, 2, 3),
    ),
    Case(
        "myid-offset-5",
        {"servers": "3", "myid_offset": "5"},
        SystemNames("zk-2", "zk-2.zk-hs.default.svc.cluster.local"),
        "zk",
        2,
        7,
        "zk-hs.default.svc.cluster.local",
        ("zk-0.zk-hs.default.svc.cluster.local", "zk-1.zk-hs.default.svc.cluster.local",
         "zk-2.zk-hs.default.svc.cluster.local"),
        (5, 6, 7),
    ),
    Case(
        "myid-offset-env-upper-bound",
        {"servers": "2"},
        SystemNames("zk-1", "zk-1.hs.ns.svc.cluster.local"),
        "zk",
        1,
        255,
        "hs.ns.svc.cluster.local",
        ("zk-0.hs.ns.svc.cluster.local", "zk-1.hs.ns.svc.cluster.local"),
        (254, 255),
        {"ZK_MYID_OFFSET": "254"},
    ),
    Case(
        "standalone-short-hostname-no-domain",
        {"hostname": "zk-0"},
        None,
        "zk",
        0,
        1,
        "",
    ),
    Case(
        "standalone-system-without-fqdn",
        {},
        SystemNames("zookeeper-0", "zookeeper-0"),
        "zookeeper",
        0,
        1,
        "",
    ),
    Case(
        "system-fqdn-of-another-name-is-ignored",
        {},
        SystemNames("zk-0", "localhost.localdomain"),
        "zk",
        0,
        1,
        "",
    ),
    Case(
        "standalone-keeps-domain-no-members",
        {"servers": "1"},
        SystemNames("zk-0", "zk-0.zk-hs.default.svc.cluster.local"),
        "zk",
        0,
        1,
        "zk-hs.default.svc.cluster.local",
    ),
    Case(
        "name-ending-in-digit",
        {"servers": "2"},
        SystemNames("zk3-1", "zk3-1.zk3-hs.default.svc.cluster.local"),
        "zk3",
        1,
        2,
        "zk3-hs.default.svc.cluster.local",
        ("zk3-0.zk3-hs.default.svc.cluster.local", "zk3-1.zk3-hs.default.svc.cluster.local"),
        (1, 2),
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_derive(case: Case) -> None:
    settings = resolve(case.flags, case.environ)
    who = derive(settings, case.system)
    assert (who.name, who.ordinal, who.myid, who.domain) == (case.name, case.ordinal, case.myid, case.domain)
    assert tuple(m.host for m in who.members) == case.hosts
    assert tuple(m.myid for m in who.members) == case.myids
    assert "." not in who.hostname
    assert who.fqdn == (f"{who.hostname}.{case.domain}" if case.domain else who.hostname)
    if who.members:
        assert who.members[who.ordinal].myid == who.myid
        assert who.members[who.ordinal].host == who.fqdn


def test_server_line() -> None:
    settings = resolve({"servers": "3", "server_port": "2890", "election_port": "3890"}, {})
    who = derive(settings, SystemNames("zk-0", "zk-0.zk-hs.default.svc.cluster.local"))
    lines = [m.server_line(settings.server_port, settings.election_port) for m in who.members]
    assert lines == [
        "server.1=zk-0.zk-hs.default.svc.cluster.local:2890:3890",
        "server.2=zk-1.zk-hs.default.svc.cluster.local:2890:3890",
        "server.3=zk-2.zk-hs.default.svc.cluster.local:2890:3890",
    ]


# (id, flags, environment, system names, fragments the one-line message must contain)
ERRORS = [
    ("no-ordinal-system", {}, {}, SystemNames("zookeeper", "zookeeper.zk-hs.default.svc.cluster.local"),
     ["'zookeeper'", "ordinal", "system hostname"]),
    ("no-ordinal-flag", {"hostname": "zookeeper"}, {}, None, ["--hostname='zookeeper'", "ordinal"]),
    ("no-ordinal-env-fqdn", {}, {"ZK_HOSTNAME": "zk.zk-hs.default.svc.cluster.local"}, None,
     ["ZK_HOSTNAME='zk.zk-hs.default.svc.cluster.local'", "ordinal"]),
    ("trailing-dash-only", {}, {}, SystemNames("zk-", "zk-"), ["'zk-'", "ordinal"]),
    ("digits-only", {"hostname": "0"}, {}, None, ["'0'", "ordinal"]),
    ("double-dash", {}, {}, SystemNames("zk--1", "zk--1"), ["'zk--1'"]),
    ("ordinal-equals-servers", {"servers": "3", "hostname": "zk-3.zk-hs.default.svc.cluster.local"}, {}, None,
     ["'zk-3.zk-hs.default.svc.cluster.local'", "ordinal 3", "--servers=3", "0 to 2"]),
    ("ordinal-above-servers-env", {}, {"ZK_REPLICAS": "2"},
     SystemNames("zk-12", "zk-12.zk-hs.default.svc.cluster.local"), ["'zk-12'", "ordinal 12", "ZK_REPLICAS=2"]),
    ("ordinal-1-standalone", {"hostname": "zk-1"}, {}, None,
     ["--hostname='zk-1'", "ordinal 1", "--servers / ZK_REPLICAS=1"]),
    ("empty-domain-short-flag", {"servers": "3", "hostname": "zk-0"}, {}, None,
     ["--hostname='zk-0'", "no domain", "--servers=3", "--domain"]),
    ("empty-domain-system", {}, {"ZK_REPLICAS": "3"}, SystemNames("zk-1", "zk-1"),
     ["'zk-1'", "no domain", "ZK_REPLICAS=3"]),
    ("empty-domain-foreign-fqdn", {"servers": "2"}, {}, SystemNames("zk-1", "other.example.org"),
     ["'zk-1'", "no domain"]),
    ("leading-zero", {"servers": "3", "hostname": "zk-01", "domain": "zk-hs.default.svc.cluster.local"}, {}, None,
     ["--hostname='zk-01'", "'01'", "leading zero"]),
    ("leading-zero-system", {}, {}, SystemNames("zk-00", "zk-00"), ["'zk-00'", "'00'"]),
    ("myid-offset-0", {"hostname": "zk-0", "myid_offset": "0"}, {}, None, ["--myid-offset=0", "1 to 255"]),
    ("myid-offset-too-high", {"servers": "3", "hostname": "zk-0.hs.svc"}, {"ZK_MYID_OFFSET": "254"}, None,
     ["ZK_MYID_OFFSET=254", "254..256"]),
    ("no-hostname-no-system", {}, {}, None, ["--hostname", "ZK_HOSTNAME"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "environ", "system", "fragments"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_derive_errors_name_what_was_seen(
    flags: dict[str, str], environ: dict[str, str], system: SystemNames | None, fragments: list[str]
) -> None:
    settings = resolve(flags, environ)
    with pytest.raises(UsageError) as caught:
        derive(settings, system)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    # Never a zoo.cfg-style empty-domain host such as "zk-0.:2888".
    assert ".:" not in message


def test_hostname_setting_wins_over_system_names() -> None:
    settings = resolve({"hostname": "zk-1", "servers": "2", "domain": "hs.ns.svc.cluster.local"}, {})
    who = derive(settings, SystemNames("build-box", "build-box.example.org"))
    assert (who.hostname, who.ordinal, who.domain) == ("zk-1", 1, "hs.ns.svc.cluster.local")


FQDN = "zk-1.zk-hs.default.svc.cluster.local"


@pytest.mark.parametrize(
    ("gethostname", "canonical", "expected"),
    [
        ("zk-1", FQDN, SystemNames("zk-1", FQDN)),  # as in a pod: /etc/hosts names the FQDN first
        ("ZK-1", FQDN.upper() + ".", SystemNames("zk-1", FQDN)),  # lower case, no root dot
        (FQDN, FQDN, SystemNames("zk-1", FQDN)),  # a hostname set to the FQDN is cut to its first label
        ("zk-1", "build-box.example.org", SystemNames("zk-1", "zk-1")),  # another host's name is not ours
        ("zk-1", None, SystemNames("zk-1", "zk-1")),  # no lookup: the hostname alone
        ("zk-1.hs.ns", None, SystemNames("zk-1", "zk-1.hs.ns")),
    ],
    ids=["pod", "upper-case-root-dot", "fqdn-hostname", "foreign-canonical", "lookup-fails", "fqdn-lookup-fails"],
)
def test_read_system_names_gives_short_hostname(
    monkeypatch: pytest.MonkeyPatch, gethostname: str, canonical: str | None, expected: SystemNames
) -> None:
    # The system's names come from the kernel and the resolver: both stand-ins here, so each case
    # has a known answer (the real machine's names would only be compared with themselves).
    def getaddrinfo(host: str, *args: object) -> list[tuple[object, ...]]:
        if canonical is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, canonical, ("10.1.2.3", 0))]

    monkeypatch.setattr(socket, "gethostname", lambda: gethostname)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert read_system_names() == expected

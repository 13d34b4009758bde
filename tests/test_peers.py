"""Peers that lie, trickle or flood: what they say gets nothing into a start's files, no call to them
outlasts its deadline, and their bytes do not become the process's memory.

The starts run ``zkboot start`` in a mount namespace whose /etc/hosts maps the StatefulSet's names
onto loopback addresses (as tests/test_ensemble.py does), with fakes from tests/fakes.py on the
peers' addresses.  Needs root (unshare --mount); CI runs as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import (
    OP_RECONFIG,
    OP_SASL,
    Canned,
    FakeServer,
    FakeZooKeeper,
    Floods,
    FloodZooKeeper,
    TrickleZooKeeper,
    same_port_on_loopbacks,
    srvr_text,
)
from tests.helpers import (
    UPSTREAM,
    ZkPaths,
    ZooKeeper,
    clean_env,
    four_letter,
    free_port,
    on_each_installation,
    script,
    snapshot,
    stub_home,
    wait_until,
)
from zkboot.client.access import Access, SecurePort, TlsDir
from zkboot.client.endpoint import Endpoint, parse_srvr
from zkboot.client.parallel import MAX_THREADS, ask_all
from zkboot.client.session import read_config, reconfigure
from zkboot.ensemble.config import MAX_SERVERS, Server, check_members, parse_config
from zkboot.errors import ForeignMembership, Kind, QueryError, SessionError
from zkboot.health.status import MemberState, collect, table, verdict
from zkboot.identity import Identity, Member

DOMAIN = "zk-hs.test.svc.cluster.local"
PASSWORD = "a-super-secret-never-sent"
ROOTED = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root for unshare --mount"
)


def pod(ordinal: int) -> str:
    return f"zk-{ordinal}.{DOMAIN}"


def identity(ordinal: int = 0, servers: int = 3, offset: int = 1) -> Identity:
    members = tuple(Member(i + offset, pod(i)) for i in range(servers))
    return Identity(f"zk-{ordinal}", "zk", ordinal, ordinal + offset, DOMAIN, members)


def config(*lines: str) -> str:
    return "".join(f"{line}:participant;0.0.0.0:2181\n" for line in lines) + "version=100000009\n"


# --- which memberships are taken -----------------------------------------------------------------

OURS = (f"server.1={pod(0)}:2888:3888", f"server.2={pod(1)}:2888:3888", f"server.3={pod(2)}:2888:3888")


@pytest.mark.parametrize(
    ("lines", "source", "named"),
    [
        ((OURS[0], "server.2=evil-1.attacker.example:2888:3888"), pod(1), "evil-1.attacker.example"),
        ((OURS[0], f"server.7={pod(1)}:2888:3888"), pod(1), f"server.7={pod(1)}"),  # wrong myid
        ((OURS[0], f"server.2={pod(1)}:2889:3889"), pod(1), "2889:3889"),  # not the ports zkboot writes
        ((OURS[0], "server.2=zk-1.zk-hs.other.svc.cluster.local:2888:3888"), pod(1), "other.svc"),
        ((OURS[0], f"server.2=db-1.{DOMAIN}:2888:3888"), pod(1), "db-1"),  # another StatefulSet
        ((f"server.0={pod(0)}:2888:3888",), pod(1), "myids from 1"),
        ((), pod(1), "no server line"),
        (OURS, "evil-1.attacker.example", "came from evil-1.attacker.example"),
        (OURS, "10.0.0.7", "came from 10.0.0.7"),  # an address, not a pod's name
    ],
)
def test_only_pods_of_this_statefulset_are_taken_from_a_peer(lines: tuple[str, ...], source: str, named: str) -> None:
    with pytest.raises(ForeignMembership) as refused:
        check_members(parse_config(config(*lines)), identity(), 2888, 3888, source)
    (line,) = str(refused.value).splitlines()
    assert named in line, line


def test_the_right_membership_is_taken_and_the_count_is_capped() -> None:
    assert check_members(parse_config(config(*OURS)), identity(), 2888, 3888, pod(1)) == parse_config(config(*OURS))
    grown = [f"server.{i + 1}={pod(i)}:2888:3888" for i in range(5)]
    assert len(check_members(parse_config(config(*grown)), identity(), 2888, 3888, pod(2))) == 5
    many = [f"server.{i + 1}={pod(i)}:2888:3888" for i in range(MAX_SERVERS + 1)]
    with pytest.raises(ForeignMembership, match="more than the 255 myids"):
        check_members(parse_config(config(*many)), identity(), 2888, 3888, pod(1))
    twice = (*parse_config(config(*OURS)), Server(2, pod(1), 2888, 3888))
    with pytest.raises(ForeignMembership, match="a myid listed twice"):
        check_members(twice, identity(), 2888, 3888, pod(1))


# --- zkboot start against lying peers: nothing written, nothing sent -------------------------------


def run_start(
    tmp_path: Path, port: int, local: str | None = None, command: str = "start", *more: str, **environ: str
) -> tuple[subprocess.CompletedProcess[str], bool]:
    """``zkboot start`` (or ``command``) as zk-0 of 3 (dynamic, unless ``environ`` says), zk-1 and
    zk-2 on 127.0.0.2 and .3; whether the pod's tree came out as it went in."""
    home = stub_home(tmp_path / "zk", "exit 0\n", jars=["zookeeper-3.8.0.jar"])
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    root = tmp_path / "pod"
    (root / "data").mkdir(parents=True)
    if local is not None:  # a volume a forged list got onto: ZooKeeper's own zoo.cfg names it
        state = root / "data" / "membership"
        state.mkdir()
        (state / "zoo.cfg.dynamic.100000009").write_text(local)
        (state / "zoo.cfg").write_text(f"dynamicConfigFile={state / 'zoo.cfg.dynamic.100000009'}\n")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n" + "".join(f"127.0.0.{i + 1} {pod(i)} zk-{i}\n" for i in range(3)))
    before = snapshot(root)
    environ = {"ZK_MEMBERSHIP": "dynamic", **environ}
    env = clean_env(root, ZK_HOME=str(home), ZK_SUPER_PASSWORD_FILE=str(secret), **environ)
    command = [
        script("zkboot"), command, "--servers=3", "--hostname=zk-0", f"--domain={DOMAIN}",
        f"--client_port={port}", "--server_port=2888", "--election_port=3888", *more,
    ]  # fmt: skip
    shell = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
    result = subprocess.run(
        ["unshare", "--mount", "--", "sh", "-c", shell, "sh", str(hosts), *command],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    return result, snapshot(root) == before


@contextlib.contextmanager
def lying_peers(text: str) -> Iterator[list[FakeServer]]:
    """zk-1 and zk-2 answering 'Mode: leader' and serving ``text`` as /zookeeper/config; stopped
    on leaving, also when the test fails."""
    fakes = same_port_on_loopbacks(
        [lambda h, p: Canned({}, h, p)] + [lambda h, p: FakeZooKeeper(text, "leader", h, p)] * 2
    )
    fakes[0].stop()  # 127.0.0.1 is this pod: nothing of its own serves yet
    try:
        for fake in fakes[1:]:
            fake.start()
        yield fakes[1:]
    finally:
        for fake in fakes[1:]:
            fake.stop()


@ROOTED
@pytest.mark.parametrize(
    ("lines", "named"),
    [
        ((OURS[0], "server.2=evil-1.attacker.example:2888:3888", "server.3=evil-2.attacker.example:2888:3888"),
         "server.2=evil-1.attacker.example:2888:3888"),
        ((OURS[0], f"server.9={pod(1)}:2888:3888", OURS[2]), f"server.9={pod(1)}"),
    ],
)  # fmt: skip
def test_a_forged_leaders_list_is_refused_and_nothing_is_written(
    tmp_path: Path, lines: tuple[str, ...], named: str
) -> None:
    """A process answering srvr with 'Mode: leader' on zk-1's and zk-2's addresses, serving a
    /zookeeper/config that lists this pod beside foreign hosts (or a pod under another myid)."""
    with lying_peers(config(*lines)) as fakes:
        result, unchanged = run_start(tmp_path, fakes[0].port)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()  # one line, no traceback
    assert line.startswith("zkboot: error: the membership from zk-1.") and named in line, line
    assert unchanged, "the start wrote to the volume"
    assert not any(op in (OP_SASL, OP_RECONFIG) for fake in fakes for op in fake.requests)


@ROOTED
def test_a_list_that_leaves_this_pod_out_never_gets_the_password(tmp_path: Path) -> None:
    """The forged list names only pods, without zk-0: zk-0 asks the 'leader' to add it.  The super
    user logs in by SASL DIGEST-MD5: the fake sees a hash, never the password nor super:<password>."""
    with lying_peers(config(OURS[1], OURS[2])) as fakes:
        result, unchanged = run_start(tmp_path, fakes[0].port)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert "refused the reconfiguration as the super user" in line, line
    assert unchanged, "the start wrote to the volume"
    sent = b"".join(bytes(fake.received) for fake in fakes)
    assert OP_SASL in fakes[0].requests + fakes[1].requests  # the login was tried...
    assert PASSWORD.encode() not in sent and b"super:" not in sent  # ...without the password
    assert all(OP_RECONFIG not in fake.requests for fake in fakes)


@ROOTED
def test_shrink_and_status_refuse_a_forged_list(tmp_path: Path) -> None:
    """``zkboot shrink`` takes no forged list for the one to change (one line, no login, no
    reconfig at the fake); ``zkboot status`` asks the members its settings list, never evil-1,
    and says why."""
    with lying_peers(config(OURS[0], "server.2=evil-1.attacker.example:2888:3888", OURS[2])) as fakes:
        shrink, _ = run_start(tmp_path / "shrink", fakes[0].port, None, "shrink", "--replicas=2")
        status, _ = run_start(tmp_path / "status", fakes[0].port, None, "status", "--format=json")
    assert shrink.returncode == 1, shrink.stderr
    (line,) = shrink.stderr.splitlines()
    assert "is refused: server.2=evil-1.attacker.example" in line, line
    assert all(OP_SASL not in fake.requests and OP_RECONFIG not in fake.requests for fake in fakes)
    shown = json.loads(status.stdout)
    assert [m["address"].split(":")[0] for m in shown["members"]] == [pod(0), pod(1), pod(2)], shown
    assert "is refused: server.2=evil-1.attacker.example" in shown["verdict"], shown


@ROOTED
def test_a_forged_list_on_the_volume_is_not_followed(tmp_path: Path) -> None:
    """A volume a forged list once got onto (an older zkboot took it): nobody serves, and the start
    refuses it rather than start ZooKeeper following evil-1 and evil-2."""
    local = config(OURS[0], "server.2=evil-1.attacker.example:2888:3888", "server.3=evil-2.attacker.example:2888:3888")
    result, unchanged = run_start(tmp_path, 2181, local)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert "zoo.cfg.dynamic.100000009 is refused" in line and "evil-1" in line, line
    assert unchanged


# --- deadlines and sizes -------------------------------------------------------------------------


def test_a_trickling_peer_holds_a_session_no_longer_than_its_deadline() -> None:
    """One byte every 0.5 s for 20 s: each read gets something in time, the reply never ends.  The
    call ends at its hard deadline (2 x 0.8 s + 0.5 s), and the session's socket is shut."""
    with TrickleZooKeeper(interval=0.5, limit=20.0) as fake:
        start = time.monotonic()
        with pytest.raises(SessionError) as failed:
            read_config("127.0.0.1", Access(fake.port), 0.8)
        took = time.monotonic() - start
        assert failed.value.kind == Kind.TIMED_OUT
        assert took < 6.0, took  # the fake's lifetime is 20 s
        # kazoo's threads gave up the connection too: the fake's end sees it closed.
        wait_until(lambda: fake.open_connections == 0, 5.0, what="the trickled connection closed")


MEASURE = """
import json, resource, sys, time
from zkboot.client.access import Access
from zkboot.client.endpoint import Endpoint
from zkboot.client.session import read_config, reconfigure
from zkboot.errors import QueryError
import kazoo.client  # loaded before measuring: its own size is not the reply's
what, port = sys.argv[1], int(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.monotonic()
try:
    if what == "session":
        read_config("127.0.0.1", Access(port), 0.8)
    else:
        Endpoint("127.0.0.1", port, 0.8).srvr()
    kind = None
except QueryError as exc:
    kind = exc.kind
took = time.monotonic() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"kind": kind, "grew_kib": after - before, "took": took}))
"""

FLOOD = 256 << 20


@pytest.mark.parametrize("what", ["session", "four-letter word"])
def test_a_flooding_peer_costs_an_error_not_memory(what: str) -> None:
    """256 MiB offered as fast as read: the call fails (unexpected reply) and the process's peak
    memory grows by far less than the flood (before: the whole reply, and more, was held)."""
    fake: FakeServer = FloodZooKeeper(FLOOD) if what == "session" else Floods(FLOOD)
    with fake:
        result = subprocess.run(
            [sys.executable, "-c", MEASURE, what.split()[0], str(fake.port)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["kind"] == Kind.UNEXPECTED, measured
    assert measured["grew_kib"] < 32 << 10, measured  # 32 MiB, an eighth of the flood
    assert measured["took"] < 5.0, measured


def test_parallel_questions_use_a_bounded_number_of_threads() -> None:
    running, peak, lock = [0], [0], threading.Lock()

    def ask(item: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)  # holding a thread, as a slow peer does
        with lock:
            running[0] -= 1
        return item

    answers = ask_all(list(range(200)), ask, 10.0)
    assert answers == list(range(200))
    assert peak[0] <= MAX_THREADS, peak


# --- what status prints --------------------------------------------------------------------------

ESCAPE = "\x1b]0;owned\x07\x1b[2J"


def test_status_prints_a_peers_words_escaped() -> None:
    """A peer's Mode with terminal escapes (a window title, a screen clear) is shown as text."""
    stats = parse_srvr(srvr_text(f"{ESCAPE}leader"))
    assert "\x1b" not in stats.mode and "\\x1b" in stats.mode and not stats.serving
    with Canned({"srvr": srvr_text(f"{ESCAPE}leader")}) as fake:
        states = collect(identity(servers=0), Endpoint("127.0.0.1", fake.port, 0.8))
    shown = table(states) + verdict(states)[1]
    assert all(c.isprintable() or c == "\n" for c in shown), shown
    long = parse_srvr(srvr_text("x" * 10_000))
    assert long.mode == "x" * 40 + "..."
    assert isinstance(states[0], MemberState)


# --- TLS: the certificate must name the member dialled ----------------------------------------------


def openssl(directory: Path, *args: str) -> None:
    result = subprocess.run(["openssl", *args], cwd=directory, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def member_tls(directory: Path, names: dict[str, str]) -> dict[str, Path]:
    """A CA, and for each of ``names`` (dir -> subjectAltName) a Secret dir it signed."""
    openssl(
        directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca",
        "-keyout", "ca.key", "-out", "ca.crt",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    secrets = {}
    for name, alt in names.items():
        secret = directory / name
        secret.mkdir()
        (directory / f"{name}.ext").write_text(f"subjectAltName={alt}\nextendedKeyUsage=serverAuth,clientAuth\n")
        openssl(directory, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", str(secret / "tls.key"), "-out", f"{name}.csr")  # fmt: skip
        openssl(directory, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-set_serial", str(len(secrets) + 2), "-days", "2", "-extfile", f"{name}.ext",
                "-out", str(secret / "tls.crt"))  # fmt: skip
        shutil.copy(directory / "ca.crt", secret / "ca.crt")
        secrets[name] = secret
    return secrets


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_over_tls_a_peer_must_hold_the_certificate_of_the_member_dialled(tmp_path: Path) -> None:
    """A certificate of the ensemble's CA for another member (127.0.0.3) does not stand in for the
    member at 127.0.0.2; its own certificate does (the pods' certificates name the pods the same way)."""
    secrets = member_tls(tmp_path, {"right": "IP:127.0.0.2", "other": "IP:127.0.0.3", "me": "IP:127.0.0.1"})
    ours = config(*OURS)

    def answers(access: Access) -> list[object]:
        found: list[object] = []
        for call in (
            lambda: access.endpoint("127.0.0.2", 2.0).srvr().mode,
            lambda: read_config("127.0.0.2", access, 2.0),
        ):
            try:
                found.append(call())
            except QueryError as exc:
                found.append(exc.kind)
        return found

    for secret, accepted in ((secrets["right"], True), (secrets["other"], False)):
        with FakeZooKeeper(ours, "leader", "127.0.0.2") as fake:
            fake.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            fake.tls.load_cert_chain(secret / "tls.crt", secret / "tls.key")
            got = answers(Access(2181, True, SecurePort(fake.port, TlsDir(str(secrets["me"])))))
        if accepted:
            assert got == ["leader", ours]
        else:  # refused at the handshake: not one byte of a session reached the fake
            assert got[0] == Kind.UNREACHABLE and got[1] in (Kind.TIMED_OUT, Kind.UNEXPECTED), got
            assert fake.received == b"" and fake.commands == [], (fake.received, fake.commands)


# --- the super user logs in by SASL on a real server ------------------------------------------------


# With the clients' SASL required, kazoo's connection thread ends in SessionClosedRequireSaslError
# for the wrong password, as in tests/test_sasl.py.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@ROOTED
@pytest.mark.integration
@on_each_installation
def test_the_super_user_reconfigures_by_sasl_and_a_wrong_password_does_not(
    zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper
) -> None:
    """A one-member dynamic ensemble started by zkboot, and a reconfig that adds an observer (the
    voters' quorum stays the one member): a session that is not the super user's gets NoAuth, a
    wrong password no session, and the super user by SASL DIGEST-MD5 (how zkboot's
    join and shrink log in, without sending the password) commits it.  On 3.9.5 with a clients'
    SASL account too, as the secure overlay has it (the JAAS file's Server section holds both, and
    the other session is that account's)."""
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost {pod(0)} zk-0\n")
    paths = ZkPaths(tmp_path / "zk")
    paths.root.mkdir()
    quorum, election = free_port(), free_port()
    command = [
        script("zkboot"), "start", "--membership=dynamic", "--servers=1", f"--domain={DOMAIN}", *paths.flags(),
        f"--server_port={quorum}", f"--election_port={election}",
    ]  # fmt: skip
    shell = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
    environ = {"ZK_SUPER_PASSWORD_FILE": str(secret)}
    account: tuple[str, str] | None = None
    if zookeeper == UPSTREAM:
        account = ("app", "app-pw")
        clients = tmp_path / "clients"
        clients.mkdir()
        (clients / "username").write_text(account[0])
        (clients / "password").write_text(account[1])
        environ["ZK_CLIENT_SASL_DIR"] = str(clients)
    zk_launcher(["unshare", "--mount", "--", "sh", "-c", shell, "sh", str(hosts), *command], paths, environ)
    wait_until(lambda: "Mode: leader" in four_letter(paths.client_port, "srvr"), 60, what="the server to serve")
    access = Access(paths.client_port, sasl=account)
    before = read_config("127.0.0.1", access, 5.0)
    joining = f"server.2=127.0.0.9:{quorum}:{election}:observer;0.0.0.0:{paths.client_port}"
    from kazoo.client import KazooClient  # type: ignore[import-untyped]
    from kazoo.exceptions import NoAuthError  # type: ignore[import-untyped]

    as_client = {"mechanism": "DIGEST-MD5", "username": account[0], "password": account[1]} if account else None
    anyone = KazooClient(hosts=f"127.0.0.1:{paths.client_port}", timeout=10, sasl_options=as_client)
    anyone.start(timeout=20)
    try:  # another session, even the clients' account, is refused by the ACL
        with pytest.raises(NoAuthError):
            anyone.reconfig(joining, None, None)
    finally:
        anyone.stop()
        anyone.close()
    # No session (NotAuthorized; with the clients' SASL required, the server drops the connection).
    with pytest.raises(SessionError):
        reconfigure("127.0.0.1", access, "not-the-password", 5.0, joining=joining)
    assert read_config("127.0.0.1", access, 5.0) == before
    committed = reconfigure("127.0.0.1", access, PASSWORD, 5.0, joining=joining)
    assert "server.2=127.0.0.9" in committed and "server.2=127.0.0.9" not in before
    assert read_config("127.0.0.1", access, 5.0) == committed


@ROOTED
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_status_over_tls_takes_a_member_only_with_its_own_certificate(tmp_path: Path) -> None:
    """``zkboot status --transport tls`` of a 3-member ensemble: zk-2 answers with its own
    certificate and counts; on zk-1's address a server holding zk-2's certificate (same CA) does not."""
    secrets = member_tls(tmp_path, {"zk-1": f"DNS:{pod(2)}", "zk-2": f"DNS:{pod(2)}", "me": f"DNS:{pod(0)}"})
    fakes = same_port_on_loopbacks([lambda h, p: FakeZooKeeper("", "follower", h, p) for _ in range(3)])
    for fake, name in zip(fakes[1:], ("zk-1", "zk-2"), strict=True):
        fake.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        fake.tls.load_cert_chain(secrets[name] / "tls.crt", secrets[name] / "tls.key")
    me = secrets["me"]
    try:
        for fake in fakes:
            fake.start()
        result, _ = run_start(
            tmp_path, fakes[0].port, None, "status", "--format=json", "--transport=tls", ZK_MEMBERSHIP="static",
            ZK_PROBE_TLS_CA=str(me / "ca.crt"), ZK_PROBE_TLS_CERT=str(me / "tls.crt"),
            ZK_PROBE_TLS_KEY=str(me / "tls.key"),
        )  # fmt: skip
    finally:
        for fake in fakes:
            fake.stop()
    assert result.stdout, result.stderr
    members = {m["address"].split(".")[0]: m for m in json.loads(result.stdout)["members"]}
    assert members["zk-2"]["mode"] == "follower", members
    assert not members["zk-1"]["reachable"], members
    assert fakes[1].commands == [] and fakes[2].commands == ["srvr"]


def test_the_clients_account_may_not_be_the_super_users(tmp_path: Path) -> None:
    """zookeeper.superUser names ``super``: a clients' SASL account of that name would make every
    client the super user, so a start with both refuses, one line, nothing written."""
    home = stub_home(tmp_path / "zk", "exit 0\n", jars=["zookeeper-3.8.0.jar"])
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    clients = tmp_path / "clients"
    clients.mkdir()
    (clients / "username").write_text("super\n")
    (clients / "password").write_text("app-pw\n")
    env = clean_env(
        tmp_path / "pod", ZK_HOME=str(home), ZK_SUPER_PASSWORD_FILE=str(secret), ZK_CLIENT_SASL_DIR=str(clients)
    )
    result = subprocess.run(
        [script("zkboot"), "start", "--hostname=zk-0", "--servers=1"],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert f"ZK_CLIENT_SASL_DIR={clients}: username 'super' is the super user's SASL account" in line, line
    assert not (tmp_path / "pod").exists()

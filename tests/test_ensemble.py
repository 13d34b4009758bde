"""A real 3-member ensemble on this machine, booted through zkboot's own start path.

Each member runs in a mount namespace of its own whose /etc/hosts maps the StatefulSet names
``zk-<i>.zk-hs.test.svc.cluster.local`` onto loopback addresses 127.0.0.1-3, as a headless service
would map them onto pod IPs; every member uses the same ports on its own address, as pods do.
Needs root (unshare --mount); CI runs as root.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient  # type: ignore[import-untyped]

from podsim.pki import make_ca, make_leaf
from tests.helpers import (
    UPSTREAM,
    ZkPaths,
    ZooKeeper,
    clean_env,
    on_each_installation,
    renewal_watches,
    script,
    snapshot,
    stop,
    wait_until,
)
from zkboot.installation import release_has

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root for unshare"),
]

DOMAIN = "zk-hs.test.svc.cluster.local"
SERVERS = 3
FORM_TIMEOUT = 90.0
# Short ticks so that a lost quorum is noticed in about a second (syncLimit x tickTime).
TIMING = ["--tick_time=200", "--init_limit=20", "--sync_limit=5"]


def address(ordinal: int) -> str:
    return f"127.0.0.{ordinal + 1}"


def free_on_all(count: int) -> list[int]:
    """Ports free on every member address (each member binds its own address)."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        try:
            for ordinal in range(1, SERVERS):
                with socket.socket() as other:
                    other.bind((address(ordinal), port))
        except OSError:
            continue
        if port not in ports:
            ports.append(port)
    return ports


class Ensemble:
    def __init__(
        self, root: Path, launcher: Any, flags: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> None:
        self.root = root
        self.launcher = launcher
        self.flags = flags  # more of zkboot's settings for every member
        self.env = env or {}
        root.mkdir(exist_ok=True)
        self.client_port, self.server_port, self.election_port, self.admin_port = free_on_all(4)
        self.hosts = root / "hosts"
        lines = ["127.0.0.1 localhost"]
        lines += [f"{address(i)} zk-{i}.{DOMAIN} zk-{i}" for i in range(SERVERS)]
        self.hosts.write_text("\n".join(lines) + "\n")
        self.members: dict[int, Any] = {}

    def in_pod(self, command: list[str]) -> list[str]:
        """``command`` in a mount namespace whose /etc/hosts knows the StatefulSet's names."""
        shell = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
        return ["unshare", "--mount", "--", "sh", "-c", shell, "sh", str(self.hosts), *command]

    def settings(self) -> list[str]:
        return [
            f"--servers={SERVERS}",
            f"--domain={DOMAIN}",
            f"--client_port={self.client_port}",
            f"--server_port={self.server_port}",
            f"--election_port={self.election_port}",
            "--admin-server=on",
            f"--admin-port={self.admin_port}",
            *TIMING,
        ]

    def start(self, ordinal: int, extra: tuple[str, ...] = ()) -> None:
        paths = ZkPaths(self.root / f"zk-{ordinal}", client_port=self.client_port)
        paths.root.mkdir(exist_ok=True)
        command = [
            script("zkboot"),
            "start",
            f"--hostname=zk-{ordinal}",
            *paths.flags(),
            *self.settings(),
            "--set",
            f"clientPortAddress={address(ordinal)}",
            f"--admin-address={address(ordinal)}",
            *self.flags,
            *extra,
        ]
        self.members[ordinal] = self.launcher(self.in_pod(command), paths, self.env)

    def probe(self, check: str, ordinal: int, transport: str = "tcp") -> subprocess.CompletedProcess[str]:
        command = [script("zkboot"), "probe", check, f"--host={address(ordinal)}", f"--port={self.client_port}"]
        command += [f"--transport={transport}", f"--admin-port={self.admin_port}"]
        return subprocess.run(command, capture_output=True, text=True, timeout=10, check=False, env=clean_env())

    def status(self, ordinal: int) -> tuple[int, dict[str, Any]]:
        command = [script("zkboot"), "status", f"--hostname=zk-{ordinal}", *self.settings(), "--format=json"]
        result = subprocess.run(
            self.in_pod(command), capture_output=True, text=True, timeout=20, check=False, env=clean_env()
        )
        assert result.stdout, result.stderr
        return result.returncode, json.loads(result.stdout)

    def all_ready(self) -> bool:
        for ordinal, member in self.members.items():
            assert member.process.poll() is None, f"zk-{ordinal} exited:\n{member.text()[-3000:]}"
        return all(self.probe("ready", i).returncode == 0 for i in range(SERVERS))


@pytest.fixture
def ensemble(zk_launcher: Any, tmp_path: Path) -> Iterator[Ensemble]:
    group = Ensemble(tmp_path, zk_launcher)
    for ordinal in range(SERVERS):
        group.start(ordinal)
    wait_until(group.all_ready, FORM_TIMEOUT, interval=0.25, what="all three members ready")
    yield group


@on_each_installation
def test_ensemble_forms_serves_metrics_then_loses_quorum(ensemble: Ensemble, zookeeper: ZooKeeper) -> None:
    code, status = ensemble.status(0)
    modes = sorted(member["mode"] for member in status["members"])
    assert modes == ["follower", "follower", "leader"], status
    for ordinal in range(SERVERS):
        for check in ("live", "ready"):
            # Polled: the admin server's first answer on a just-started JVM can take longer than
            # the probe's 0.8 s on a loaded machine (Kubernetes' failureThreshold absorbs that).
            wait_until(
                lambda: ensemble.probe(check, ordinal, "http").returncode == 0,  # noqa: B023 (called at once)
                15,
                interval=0.2,
                what=f"zk-{ordinal}'s admin server to pass the {check} probe",
            )
    assert code == 0
    assert status["verdict"].startswith("quorum held: 3 of 3 serving, leader zk-")
    assert [m["myid"] for m in status["members"]] == [1, 2, 3]
    assert all(m["version"].startswith(zookeeper.version) for m in status["members"]), status

    states = []
    for ordinal in range(SERVERS):
        command = [script("zkboot"), "metrics", f"--host={address(ordinal)}", f"--port={ensemble.client_port}"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False, env=clean_env())
        assert result.returncode == 0, result.stderr
        pairs = dict(line.split("\t", 1) for line in result.stdout.splitlines())
        states.append(pairs["zk_server_state"])
        if pairs["zk_server_state"] == "leader":
            assert pairs["zk_synced_followers"] == "2"
    assert sorted(states) == ["follower", "follower", "leader"]

    # Stop the two members other than zk-2 (by their PIDs, which are the JVMs: exec all the way).
    survivor = 2
    for ordinal in (0, 1):
        member = ensemble.members[ordinal]
        member.process.terminate()
        member.process.wait(timeout=20)

    assert ensemble.probe("live", survivor).returncode == 0

    def survivor_not_ready() -> bool:
        return ensemble.probe("ready", survivor).returncode == 1

    wait_until(survivor_not_ready, 15, interval=0.2, what="the survivor to turn not ready")
    failed = ensemble.probe("ready", survivor)
    assert failed.stderr.count("\n") == 1
    assert "(not serving)" in failed.stderr
    assert ensemble.probe("live", survivor).returncode == 0  # imok without quorum: live, not ready
    # The same over the admin server: an answer at all is live (its ruok says "not serving").
    assert ensemble.probe("live", survivor, "http").returncode == 0, ensemble.probe("live", survivor, "http").stderr
    assert "(not serving)" in ensemble.probe("ready", survivor, "http").stderr

    code, status = ensemble.status(survivor)
    assert code == 1
    reachable = {m["address"].split(".")[0]: m["reachable"] for m in status["members"]}
    assert reachable == {"zk-0": False, "zk-1": False, "zk-2": True}
    assert status["verdict"].startswith("quorum lost: 0 of 3 voting members serving, 2 needed")
    assert "not serving: zk-0 (myid 1), zk-1 (myid 2), zk-2 (myid 3)" in status["verdict"]


def scrape(ordinal: int, port: int) -> set[str]:
    """The metric families a member's Prometheus endpoint serves."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://{address(ordinal)}:{port}/metrics", timeout=10) as response:
        text = response.read(4 << 20).decode()
    return {family.name for family in text_string_to_metric_families(text)}


@pytest.mark.parametrize("zookeeper", [UPSTREAM], ids=lambda z: z.name)
def test_the_metrics_the_charts_alerts_read_follow_the_quorum(
    zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper
) -> None:
    """What the chart's default alerts rely on, on a real ensemble with ``--metrics-port``: only the
    leader exports ``leader_uptime``, every serving member ``uptime``; a member left without a
    quorum still answers the scrape but exports neither (the alerts' quorum lost, not serving)."""
    group = Ensemble(tmp_path, zk_launcher)
    taken = (group.client_port, group.server_port, group.election_port, group.admin_port)
    port = next(p for p in free_on_all(5) if p not in taken)
    group.flags = (f"--metrics-port={port}",)
    for ordinal in range(SERVERS):
        # Every member on its own address, as pods are (the provider's default is all addresses).
        group.start(ordinal, ("--set", f"metricsProvider.httpHost={address(ordinal)}"))
    wait_until(group.all_ready, FORM_TIMEOUT, interval=0.25, what="all three members ready")
    _code, status = group.status(0)
    leader = next(int(m["address"].split(".")[0][3:]) for m in status["members"] if m["mode"] == "leader")
    families = {ordinal: scrape(ordinal, port) for ordinal in range(SERVERS)}
    assert [o for o, names in families.items() if "leader_uptime" in names] == [leader], status
    for names in families.values():
        assert {"uptime", "quorum_size", "outstanding_requests", "fsynctime"} <= names

    survivor = 2
    for ordinal in (0, 1):
        group.members[ordinal].process.terminate()
        group.members[ordinal].process.wait(timeout=20)
    wait_until(lambda: "uptime" not in scrape(survivor, port), 30, interval=0.2, what="the survivor's uptime gone")
    left = scrape(survivor, port)
    assert "leader_uptime" not in left and "jvm_memory_bytes_used" in left


def test_a_start_with_another_server_list_is_refused_while_the_ensemble_serves(
    ensemble: Ensemble, tmp_path: Path
) -> None:
    """The split-brain guard: zk-3 of a 5-server list would elect with zk-4 beside the serving
    3-member ensemble; it must not even write its files.  The same list goes ahead at once."""
    newcomer = tmp_path / "zk-3"
    newcomer.mkdir()
    argv = [
        script("zkboot"),
        "start",
        "--hostname=zk-3",
        *ZkPaths(newcomer, client_port=ensemble.client_port).flags(),
        *[s.replace(f"--servers={SERVERS}", "--servers=5") for s in ensemble.settings()],
        "--zookeeper-home=/usr/share/zookeeper",
    ]
    before = snapshot(newcomer, mtimes=True)
    refused = subprocess.run(ensemble.in_pod(argv), capture_output=True, text=True, timeout=30, env=clean_env())
    assert refused.returncode == 1, refused.stderr
    (line,) = refused.stderr.splitlines()
    old = ",".join(f"server.{i + 1}=zk-{i}.{DOMAIN}:{ensemble.server_port}:{ensemble.election_port}" for i in range(3))
    new = ",".join(f"server.{i + 1}=zk-{i}.{DOMAIN}:{ensemble.server_port}:{ensemble.election_port}" for i in range(5))
    assert f" has {old} but this start would write {new}: refusing" in line, line
    assert snapshot(newcomer, mtimes=True) == before  # nothing written, nothing created

    # A member restarting with the ensemble's own list: the guard reads the same membership.
    same = tmp_path / "zk-1-again"
    same.mkdir()
    argv = [
        script("zkGenConfig.sh"),
        "--hostname=zk-1",
        *ZkPaths(same, client_port=ensemble.client_port).flags(),
        *ensemble.settings(),
    ]
    started = time.monotonic()
    allowed = subprocess.run(ensemble.in_pod(argv), capture_output=True, text=True, timeout=30, env=clean_env())
    took = time.monotonic() - started
    assert allowed.returncode == 0, allowed.stderr
    notes = [line for line in allowed.stderr.splitlines() if " membership " in line]
    assert len(notes) == 1 and notes[0].endswith(" serves the same 3 servers"), allowed.stderr
    print(f"\nzkGenConfig.sh with the serving ensemble's list, guard included: {took:.2f}s")


def serving(group: Ensemble, ordinal: int) -> bool:
    return group.probe("ready", ordinal).returncode == 0


def account(directory: Path, password: str) -> Path:
    """A quorum SASL Secret's dir: the account every member proves to the others."""
    directory.mkdir()
    (directory / "username").write_text("zk-quorum\n")
    (directory / "password").write_text(password + "\n")
    return directory


@on_each_installation
def test_quorum_sasl_lets_in_only_members_with_the_account(
    zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper
) -> None:
    """Members zk-0 and zk-1 hold the quorum account, zk-2 a wrong password: the first two form a
    quorum, zk-2 never serves.  On 3.9.5, beside them, the same ensemble in FIPS mode (the JVM gets
    zookeeper.fips-mode=true through a user's JVMFLAGS, which comes after zkboot's flags) has no
    member serving at all: what zkboot's guard says to refuse without --fips-mode off."""
    right = account(tmp_path / "right", "quorum-secret")
    wrong = account(tmp_path / "wrong", "not-the-secret")
    flags = ("--fips-mode=off",)  # nothing to 3.8, which has no FIPS mode
    group = Ensemble(tmp_path / "sasl", zk_launcher, flags)
    for ordinal in range(SERVERS):
        group.start(ordinal, (f"--quorum-sasl-dir={wrong if ordinal == 2 else right}",))
    fips: Ensemble | None = None
    if zookeeper == UPSTREAM:  # the FIPS mode comparison
        fips = Ensemble(tmp_path / "fips", zk_launcher, (), {"JVMFLAGS": "-Dzookeeper.fips-mode=true"})
        for ordinal in range(SERVERS):
            fips.start(ordinal, (f"--quorum-sasl-dir={right}", "--fips-mode=off"))
    started = time.monotonic()
    wait_until(lambda: serving(group, 0) and serving(group, 1), FORM_TIMEOUT, interval=0.25, what="zk-0 and zk-1")
    formed = time.monotonic() - started
    # As long again as the quorum took to form (and no less than a few election rounds).
    deadline = time.monotonic() + max(formed, 5.0)
    outsiders = [(group, 2)] + [(fips, i) for i in range(SERVERS) if fips is not None]
    while time.monotonic() < deadline:
        for each, ordinal in outsiders:
            member = each.members[ordinal]
            assert member.process.poll() is None, f"{each.root.name} zk-{ordinal} exited:\n{member.text()[-3000:]}"
            assert not serving(each, ordinal), f"{each.root.name} zk-{ordinal} got into a quorum"
        time.sleep(0.5)  # pacing the polls, not waiting for an event
    code, status = group.status(0)
    assert code == 0 and sorted(m["mode"] for m in status["members"][:2]) == ["follower", "leader"], status


# --- renewed certificates ----------------------------------------------------------------------


def publish(secret: Path, files: dict[str, Path]) -> None:
    """Put ``files`` (name -> source) in the Secret's dir as the kubelet does: a new dir of their
    contents, ``..data`` swapped onto it by one rename, each name a symlink through ``..data``."""
    secret.mkdir(exist_ok=True)
    data = secret / "..data"
    previous = os.readlink(data) if data.is_symlink() else None
    stamp = secret / f"..{time.time_ns()}"
    stamp.mkdir()
    for name, source in files.items():
        shutil.copy(source, stamp / name)
    (secret / "..data_tmp").symlink_to(stamp.name)
    os.replace(secret / "..data_tmp", data)
    for name in files:
        if not (secret / name).is_symlink():
            (secret / name).symlink_to(f"..data/{name}")
    if previous is not None:
        shutil.rmtree(secret / previous)


def served(host: str, port: int, ca: Path, cert: Path, key: Path) -> bytes:
    """The certificate (DER) a member presents on ``port`` to a client holding ``cert``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the CA is what is checked here; the certificate is compared whole
    context.load_verify_locations(str(ca))
    context.load_cert_chain(str(cert), str(key))
    with socket.create_connection((host, port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def der_of(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


@on_each_installation
def test_renewed_certificates_are_served_without_a_restart(
    zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper
) -> None:
    """Each member's Secret, laid out and renewed as the kubelet does it (a new key and certificate
    from the same CA): every member presents the new certificate on its secure client port and its
    election port, same JVMs, every write still on every member.  A renewal that fails the start's
    checks (another CA's certificate) leaves the key store as it was, and the member serving the
    certificate it had.  The watch ends with its server."""
    ca, ca_key = make_ca(tmp_path / "ca", "ensemble")
    stranger_ca, stranger_key = make_ca(tmp_path / "stranger-ca", "stranger")
    secure = free_on_all(1)[0]
    group = Ensemble(tmp_path / "tls", zk_launcher)
    assert secure not in (group.client_port, group.server_port, group.election_port, group.admin_port)

    def leaf(ordinal: int, generation: str, signer: tuple[Path, Path] = (ca, ca_key)) -> dict[str, Path]:
        name = f"zk-{ordinal}"
        cert, key = make_leaf(
            tmp_path / f"{generation}-{ordinal}", name, *signer, [f"{name}.{DOMAIN}"], [address(ordinal)]
        )
        return {"tls.crt": cert, "tls.key": key, "ca.crt": ca}

    first = {i: leaf(i, "first") for i in range(SERVERS)}
    secrets = {i: tmp_path / f"secret-{i}" for i in range(SERVERS)}
    for ordinal in range(SERVERS):
        publish(secrets[ordinal], first[ordinal])
        group.start(ordinal, (
            f"--secure-client-port={secure}", f"--tls-dir={secrets[ordinal]}", "--quorum-tls=on",
            "--plain-client-port=all", "--set", f"secureClientPortAddress={address(ordinal)}",
            "--tls-reload-interval=1",
        ))  # fmt: skip
    wait_until(group.all_ready, FORM_TIMEOUT, interval=0.25, what="all three members ready")
    jvms = {i: group.members[i].process.pid for i in range(SERVERS)}

    def presented(ordinal: int, port: int) -> bytes:
        client = first[(ordinal + 1) % SERVERS]  # another member's certificate, as a peer dials
        return served(address(ordinal), port, ca, client["tls.crt"], client["tls.key"])

    for ordinal in range(SERVERS):
        for port in (secure, group.election_port):
            assert presented(ordinal, port) == der_of(first[ordinal]["tls.crt"])
    writer = KazooClient(hosts=f"{address(0)}:{group.client_port}", timeout=5)
    writer.start(timeout=20)
    try:
        for n in range(20):
            writer.create(f"/before-{n}", b"x")
    finally:
        writer.stop()
        writer.close()

    second = {i: leaf(i, "second") for i in range(SERVERS)}
    renewed_at = time.monotonic()
    for ordinal in range(SERVERS):
        publish(secrets[ordinal], second[ordinal])

    def stale() -> list[str]:
        ports = {secure: "secure client port", group.election_port: "election port"}
        return [
            f"zk-{i}'s {what}"
            for i in range(SERVERS)
            for port, what in ports.items()
            if presented(i, port) != der_of(second[i]["tls.crt"])
        ]

    # Before 3.8.5 the client port keeps its certificate until a restart (and the start says so).
    reloads = release_has(zookeeper.version, "client_cert_reload")
    kept = [] if reloads else [f"zk-{i}'s secure client port" for i in range(SERVERS)]
    assert reloads != ("the secure client port" in group.members[0].text())
    deadline = time.monotonic() + 30
    while stale() != kept and time.monotonic() < deadline:
        time.sleep(0.5)  # pacing the polls
    assert stale() == kept, f"still the old certificate: {', '.join(stale())}"
    took = time.monotonic() - renewed_at
    assert {i: group.members[i].process.pid for i in range(SERVERS)} == jvms
    assert all(group.members[i].process.poll() is None for i in range(SERVERS))
    wait_until(group.all_ready, 30, interval=0.25, what="all three members ready after the renewal")
    for ordinal in range(SERVERS):
        reader = KazooClient(hosts=f"{address(ordinal)}:{group.client_port}", timeout=5)
        reader.start(timeout=20)
        try:
            reader.sync("/")
            assert sorted(reader.get_children("/")) == sorted(["zookeeper", *(f"before-{n}" for n in range(20))])
        finally:
            reader.stop()
            reader.close()

    # zk-2's Secret now holds another CA's certificate: refused, the key store left as it was.
    store = tmp_path / "tls" / "zk-2" / "conf" / "client-keystore.pem"
    kept = store.read_bytes()
    publish(secrets[2], {**leaf(2, "stranger", (stranger_ca, stranger_key)), "ca.crt": ca})
    output = group.members[2]
    wait_until(lambda: "the renewal is not taken" in output.text(), 15, interval=0.25, what="zk-2's watch to look")
    assert store.read_bytes() == kept
    assert presented(2, secure) == der_of((second if reloads else first)[2]["tls.crt"])
    assert presented(2, group.election_port) == der_of(second[2]["tls.crt"])

    # The watch is the server's child, and ends when the server does.
    watches = renewal_watches(jvms[2])
    assert len(watches) == 1, watches
    stop(group.members[2].process)
    wait_until(lambda: not Path(f"/proc/{watches[0]}").exists(), 10, interval=0.1, what="the watch to end")
    ports = "both ports" if reloads else "the election port"
    print(f"\nrenewal on {zookeeper.version}: served on {ports} by all 3 members {took:.1f}s after the swap")

"""manifests/overlays/secure in the pod simulator: TLS for clients and the quorum, members let in by
their certificate alone (mutual TLS, no quorum SASL), SASL DIGEST-MD5 for clients.

podsim makes the ``zk-tls`` Secret as cert-manager's CA issuer would (the run's CA, a certificate
naming every pod), and ``zk-quorum-tls`` likewise from the CA of the issuer its Certificate names;
the host's observers (status table, LeaderWatch, Writer, member reads) connect on 2281 as a client
holding zk-tls's certificate (``Simulation.clients_over_tls``).

- On the image's ZooKeeper (upstream 3.9.5, pods from this machine's files), in ZooKeeper's default
  FIPS mode: the overlay boots 3 pods whose quorum formed over TLS (each member's election port
  completes a TLS handshake with the ensemble's certificate; the dynamic join and the membership
  reads go to the peers' secure port), survives a leader kill and a rolling restart with every
  acknowledged write on every member and never two leaders; the plain port 2181 answers nobody
  outside the pod; a client without a certificate, or with one but without the clients' SASL
  account or with a wrong password, gets no session and writes nothing.
- From the image: a rogue member (pod 2's host name, myid, data and configuration) started while
  pod 2 is held down, first with a certificate from another CA (trusting the ensemble's CA, so only
  the ensemble's check can keep it out), then speaking plain quorum without TLS, cannot join: the
  leader, the membership and the data stay as they were, the leader counts one learner, the rogue
  never serves, and the real pod 2 rejoins afterwards.
- From the image, the overlay with its quorum-ca component (in a kustomization of the test's own,
  with a cert-manager Certificate that has podsim sign zk-quorum-tls with a CA of its own): the
  quorum forms with zk-quorum-tls's certificate in every member's quorum key store, a client holding
  zk-tls's certificate (the clients' CA) writes on 2281, every election port refuses that
  certificate, and a rogue pod 2 holding it in its quorum key store cannot join: the leader never
  counts it, it never serves, and every acknowledged write is on every member afterwards.
- Quorum TLS turned on in a serving ensemble on 3.9.5 by docs/tls-and-sasl.md's three rolling
  restarts (port unification on, quorum TLS on, port unification off) loses no write and never has
  two leaders.
Every refusal is judged by what the servers did (sessions, modes, znodes), not by a log line.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from kazoo.client import KazooClient  # type: ignore[import-untyped]

from podsim.cluster import Simulation
from podsim.manifest import StatefulSet
from podsim.pki import make_ca, make_leaf
from podsim.zk import ZkError, ask
from tests.e2e.helpers import (
    IMAGE_MODE,
    REPO,
    SERVING,
    LeaderWatch,
    Writer,
    assert_all_members_agree,
    healthy,
    leader,
    load,
    missing_requirements,
    on_installation,
    wait_healthy,
)
from tests.helpers import UPSTREAM, intruder_writes, renewal_watches

REQUIRED = missing_requirements()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(REQUIRED is not None, reason=str(REQUIRED))]
SECURE = REPO / "manifests" / "overlays" / "secure"
SECRET, SECURE_PORT, CLIENT_SASL = "zk-tls", 2281, "zk-client-sasl"
TLS_DIR = "/opt/zookeeper/secrets/tls"  # where the overlay mounts zk-tls
ELECTION_PORT = 3888
PEER_WAIT = 1.0  # seconds a peer holding the ensemble's certificate listens after its handshake
REFUSAL_WAIT = 10.0  # seconds one holding another CA's listens for the server's alert
# Seconds each rogue is watched: many times what the real pod 2 takes to rejoin (printed at the end).
ROGUE_WATCH = 15.0
PODMAN_FAILED = 125  # podman exec's own exit, e.g. while the container is not running yet


def boot(sim: Callable[..., Simulation], sts: StatefulSet | Path = SECURE) -> Simulation:
    s = sim(sts)
    s.clients_over_tls(SECRET, SECURE_PORT, CLIENT_SASL)
    wait_healthy(s)
    return s


def exists(s: Simulation, path: str) -> bool:
    zk = KazooClient(hosts=f"{s.address(0)}:{SECURE_PORT}", timeout=10.0, **s.kazoo_args())
    zk.start(timeout=30)
    try:
        return zk.exists(path) is not None
    finally:
        zk.stop()
        zk.close()


def config_of(s: Simulation, ordinal: int) -> bytes:
    zk = KazooClient(hosts=f"{s.address(ordinal)}:{SECURE_PORT}", timeout=10.0, **s.kazoo_args())
    zk.start(timeout=30)
    try:
        data: bytes = zk.get("/zookeeper/config")[0]
        return data
    finally:
        zk.stop()
        zk.close()


def at_the_election_port(s: Simulation, ordinal: int, tls: ssl.SSLContext, wait: float) -> str:
    """What pod ``ordinal``'s election port does with a TLS peer holding ``tls``'s certificate and
    checking the server's against the CA, listening ``wait`` seconds after the handshake: ``held
    open, <TLS version>`` when the server waits for the peer's first message, ``refused: <alert>``
    when the server's TLS refused it (in the handshake, or right after it under TLS 1.3, where the
    server checks the client's certificate last), else ``closed ...``."""
    raw = socket.create_connection((s.address(ordinal), ELECTION_PORT), timeout=10)
    with raw:
        try:
            with tls.wrap_socket(raw) as sock:
                assert sock.getpeercert(), f"zk-{ordinal}'s election port showed no certificate"
                version = sock.version()
                sock.settimeout(wait)
                try:
                    got = sock.recv(1)
                except TimeoutError:
                    return f"held open, {version}"
                return f"closed after {got!r}"
        except (ssl.SSLError, ConnectionResetError) as exc:
            return f"refused: {exc}"


def foreign_tls(work: Path, ca: Path) -> ssl.SSLContext:
    """A TLS client context holding a certificate for pod 0's names from a CA the ensemble does not
    trust, and trusting the ensemble's CA ``ca``."""
    rogue_ca, rogue_key = make_ca(work / "foreign-ca", "foreign-ca")
    cert, key = make_leaf(work / "foreign-leaf", "zk-0", rogue_ca, rogue_key, ["zk-0"], ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(ca)
    context.load_cert_chain(cert, key)
    return context


# kazoo's connection thread ends in SessionClosedRequireSaslError for the client refused on purpose.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_secure_overlay_on_3_9_keeps_every_write_through_a_leader_kill_and_a_rolling_restart(
    sim: Callable[..., Simulation], tmp_path: Path
) -> None:
    s = boot(sim, on_installation(load(SECURE), UPSTREAM))
    # The image's ZooKeeper, in its default FIPS mode (the overlay sets no zookeeper.fips-mode).
    for ordinal in range(s.replicas):
        reply = ask(s.address(ordinal), SECURE_PORT, "srvr", 5.0, s.client_tls)
        assert f"Zookeeper version: {UPSTREAM.version}-" in reply, reply
        pid = s.pods[ordinal].main_pid()
        assert pid is not None
        assert b"zookeeper.fips-mode" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert len(renewal_watches(pid)) == 1  # the TLS renewal watch runs beside the server
    # The quorum formed over TLS only: sslQuorum without port unification. Every member's election
    # port takes the ensemble's certificate, and refuses one from another CA although it names a pod
    # (in FIPS mode the JDK's trust manager checks it, not ZooKeeper's own).
    cfg = (s.pvc_dir(0, "datadir") / "data" / "membership" / "zoo.cfg").read_text()
    assert "sslQuorum=true\n" in cfg and "portUnification=false\n" in cfg, cfg
    assert not [line for line in cfg.splitlines() if line.startswith("quorum.auth.")], cfg
    assert s.client_tls is not None
    foreign = foreign_tls(tmp_path, s.tls_ca())
    seen = {
        i: (at_the_election_port(s, i, s.client_tls, PEER_WAIT), at_the_election_port(s, i, foreign, REFUSAL_WAIT))
        for i in range(3)
    }
    assert all(ours.startswith("held open") and theirs.startswith("refused") for ours, theirs in seen.values()), seen
    versions = {ours.rsplit(" ", 1)[1] for ours, _ in seen.values()}
    # The plain port listens on the pod's loopback only: from the host it refuses.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((s.address(0), 2181), timeout=2).close()
    # No certificate, no session (the CA is trusted, so only the server's demand can refuse it);
    # a certificate without the clients' SASL account, no session either.
    for name, arguments in (
        ("without a certificate", {"use_ssl": True, "ca": str(s.tls_ca())}),
        ("without SASL", {k: v for k, v in s.kazoo_args().items() if k != "sasl_options"}),
        ("with a wrong SASL password", {**s.kazoo_args(), "sasl_options": {**s.client_sasl, "password": "wrong"}}),
    ):
        assert not intruder_writes(f"{s.address(0)}:{SECURE_PORT}", **arguments), f"a client {name} wrote"
    assert config_of(s, 0) and not exists(s, "/intruder")

    # zkboot status in a pod reaches the other members on their secure port with the pod's certificate.
    status = subprocess.run(
        s.pods[0].exec_argv(["zkboot", "status", "--format=json"]), env=s.pods[0].env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["quorum"] and sorted(m["mode"] for m in shown["members"]) == ["follower", "follower", "leader"]
    assert all(m["address"].endswith(f":{SECURE_PORT}") for m in shown["members"]), shown["members"]

    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(20, 60)
        old = leader(s)
        s.kill(old)
        wait_healthy(s, what=f"after killing the leader zk-{old}")
        writer.wait_for(len(writer.acknowledged) + 20, 60)
        for ordinal in (2, 1, 0):  # a rolling restart, highest ordinal first
            s.delete(ordinal)
            wait_healthy(s, what=f"after zk-{ordinal} was recreated")
        writer.wait_for(len(writer.acknowledged) + 20, 60)
    assert watch.max_leaders == 1, watch.summary()
    assert_all_members_agree(s, writer.acknowledged)
    print(
        f"\nsecure overlay on {UPSTREAM.version} (quorum over {', '.join(sorted(versions))}; another CA's "
        f"certificate {seen[0][1]}): {len(writer.acknowledged)} writes acknowledged, 0 lost; {watch.summary()}"
    )
    assert_no_secret_shows(s)


def assert_no_secret_shows(s: Simulation) -> None:
    """The clients' password and the key's lines are in no JVM's argv or environment, nor in any
    pod's log (zkboot's lines and ZooKeeper's)."""
    client_password = (s.secret_dir(CLIENT_SASL) / "password").read_text().strip()
    key_lines = [line for line in (s.secret_dir(SECRET) / "tls.key").read_text().splitlines() if "-----" not in line]
    secrets = [client_password, *key_lines[:3]]
    for ordinal in range(s.replicas):
        pid = s.pods[ordinal].main_pid()
        assert pid is not None
        exposed = Path(f"/proc/{pid}/cmdline").read_bytes() + Path(f"/proc/{pid}/environ").read_bytes()
        assert b"java" in Path(f"/proc/{pid}/cmdline").read_bytes()
        log = (s.root / "logs" / f"{s.sts.name}-{ordinal}.log").read_text(errors="replace")
        for secret in secrets:
            assert secret.encode() not in exposed, f"a secret in zk-{ordinal}'s JVM argv or environment"
            assert secret not in log, f"a secret in zk-{ordinal}'s log"


def rogue_secret(work: Path, name: str, files: dict[str, Path]) -> Path:
    """A Secret's dir for the rogue, ``work/name``: each file (tls.crt, tls.key, ca.crt) a copy of its source."""
    secret = work / name
    secret.mkdir(parents=True)
    for file, source in files.items():
        shutil.copy(source, secret / file)
        (secret / file).chmod(0o444)
    return secret


def another_ca_secret(s: Simulation, work: Path) -> Path:
    """A TLS Secret's dir for pod 2's names, its certificate from a CA the ensemble does not trust;
    its ``ca.crt`` is the ensemble's, so the rogue itself would accept the members."""
    ca, ca_key = make_ca(work / "rogue-ca", "rogue-ca")
    names = ["zk-2.zk-hs.default.svc.cluster.local", "zk-2"]
    cert, key = make_leaf(work / "rogue-leaf", "zk-2", ca, ca_key, names, ["127.0.0.1"])
    return rogue_secret(work, "rogue-secret", {"tls.crt": cert, "tls.key": key, "ca.crt": s.tls_ca()})


def learners(s: Simulation, ordinal: int) -> tuple[str | None, str | None] | None:
    """The learners and synced followers the leader pod ``ordinal`` counts (``mntr``), or None
    when it gives no whole reply in time."""
    try:
        reply = ask(s.address(ordinal), SECURE_PORT, "mntr", 5.0, s.client_tls)
    except ZkError:
        return None
    fields = dict(line.split("\t", 1) for line in reply.splitlines() if "\t" in line)
    return fields.get("zk_learners"), fields.get("zk_synced_followers")


def watch_a_rogue(
    s: Simulation, work: Path, kind: str, membership: bytes, before: int, secrets: dict[str, Path], store: Path
) -> None:
    """Start a rogue pod 2 in pod 2's network namespace (its data and configuration as they were,
    ``secrets`` (mount path -> a Secret's dir) mounted, both key stores holding ``store``'s key and
    certificate; ``plain``: its quorum without TLS too), watch it for ROGUE_WATCH seconds, then
    remove it: it never serves, ``before`` stays the leader and counts one learner, one synced
    follower (pod 2 being held down), and the membership stays ``membership``."""
    assert s.image is not None
    work.mkdir(parents=True, exist_ok=True)
    rogue_data, rogue_conf = work / "data", work / "conf"
    shutil.copytree(s.pvc_dir(2, "datadir"), rogue_data, symlinks=True)
    shutil.copytree(s.pods[2].volume_dirs()["/opt/zookeeper/conf"], rogue_conf)
    keys = (store / "tls.key").read_text() + (store / "tls.crt").read_text()
    for name in ("quorum-keystore.pem", "client-keystore.pem"):  # none of the members' own stores
        (rogue_conf / name).write_text(keys)
    cfg = rogue_data / "data" / "membership" / "zoo.cfg"
    assert "sslQuorum=true\n" in cfg.read_text()
    if kind == "plain":
        cfg.write_text(cfg.read_text().replace("sslQuorum=true\n", "sslQuorum=false\n"))
    for path in (rogue_data, rogue_conf, *secrets.values()):
        subprocess.run(["chown", "-R", "1000:1000", str(path)], check=True, timeout=30)
    for directory in ("tmp", "logs"):
        (work / directory).mkdir()
        shutil.chown(work / directory, 1000, 1000)
    name = f"{s.run_id}-rogue-{kind}"
    argv = s.image.run_argv(
        name, "zk-2", s.pods[2].netns,
        [(rogue_data, "/var/lib/zookeeper", False), (rogue_conf, "/opt/zookeeper/conf", False),
         *((secret, path, True) for path, secret in secrets.items()), (work / "tmp", "/tmp", False),
         (work / "logs", "/var/log/zookeeper", False)],
        {"ZOOCFGDIR": "/opt/zookeeper/conf", "ZOO_LOG_DIR": "/var/log/zookeeper", "ZK_SERVER_HEAP": "256"},
        s.sts.security, s.sts.memory_limit,
        ["zkServer.sh", "start-foreground", "/var/lib/zookeeper/data/membership/zoo.cfg"],
    )  # fmt: skip
    with (work / "rogue.log").open("wb") as log:
        rogue = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=s.image.store.env)
    image = s.image

    def ready() -> int:
        """The rogue's readiness probe's exit, or podman's (125) while its container is not running yet."""
        assert rogue.poll() is None, (work / "rogue.log").read_text()[-2000:]
        return subprocess.run(
            image.exec_argv(name, ["zkboot", "probe", "ready"]), env=image.store.env,
            capture_output=True, text=True, timeout=30, check=False,
        ).returncode  # fmt: skip

    try:
        s.wait(lambda: ready() != PODMAN_FAILED, 60, f"the rogue ({kind})'s container running")
        deadline = time.monotonic() + ROGUE_WATCH
        states, counted = set(), set()
        while time.monotonic() < deadline:
            states.add(ready())
            counted.add(learners(s, before))
            time.sleep(0.5)
        assert states == {1}, f"the rogue ({kind}) served at some point (probe exits {sorted(states)})"
        # One mntr may time out on a loaded machine; those that answered decide.
        assert counted - {None} == {("1", "1")}, f"zk-{before} counted (learners, synced followers) {counted}"
        # One srvr may time out on a loaded machine: the first mode it answers decides.
        answers: list[str] = []

        def answered() -> bool:
            answers.append(s.mode(before))
            return answers[-1] in SERVING

        s.wait(answered, 30, f"{s.sts.name}-{before} answering srvr")
        assert answers[-1] == "leader", f"the leader changed while the rogue ({kind}) ran"
        assert config_of(s, 0) == membership, f"the rogue ({kind}) changed the membership"
    finally:
        s.image.signal(name, "KILL")
        rogue.wait(timeout=30)
        s.image.remove(name)


@IMAGE_MODE
def test_a_rogue_member_without_a_certificate_the_ca_signed_cannot_join(
    sim: Callable[..., Simulation], tmp_path: Path
) -> None:
    """Two rogues in turn on one ensemble: ``certificate``, its key stores from another CA;
    ``plain``, that and its quorum without TLS."""
    s = boot(sim)
    membership = config_of(s, 0)
    s.kill(2, hold=True)
    s.wait(lambda: [s.mode(i) for i in (0, 1)].count("leader") == 1, 60, "a leader among zk-0 and zk-1")
    before = next(i for i in (0, 1) if s.mode(i) == "leader")
    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(10, 60)
        for kind in ("certificate", "plain"):
            secret = another_ca_secret(s, tmp_path / kind)
            watch_a_rogue(s, tmp_path / kind, kind, membership, before, {TLS_DIR: secret}, secret)
            writer.wait_for(len(writer.acknowledged) + 10, 60)
    assert watch.max_leaders == 1 and watch.split_polls() == [], watch.summary()

    restarted = time.monotonic()
    s.restart(2)
    wait_healthy(s, what="the real zk-2 back")
    took = time.monotonic() - restarted
    print(f"\nrogues (another CA's certificate, plain quorum) refused for {ROGUE_WATCH:g}s each; "
          f"the real zk-2 rejoined in {took:.1f}s")  # fmt: skip
    assert_all_members_agree(s, writer.acknowledged)


QUORUM_SECRET, QUORUM_ISSUER = "zk-quorum-tls", "zk-quorum-ca"
QUORUM_TLS_DIR = "/opt/zookeeper/secrets/quorum-tls"  # where the quorum-ca component mounts zk-quorum-tls
# The component's comment, for cert-manager: a Certificate as zk-tls's, from a CA Issuer of its own.
QUORUM_CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": QUORUM_SECRET},
    "spec": {
        "secretName": QUORUM_SECRET,
        "issuerRef": {"name": QUORUM_ISSUER, "kind": "Issuer"},
        "dnsNames": ["*.zk-hs.default.svc.cluster.local"],
        "usages": ["server auth", "client auth"],
    },
}


def with_quorum_ca(work: Path) -> Path:
    """A kustomization of the test's own under ``work``, as the quorum-ca component's comment says
    to use it: the secure overlay, the component, and the Certificate for zk-quorum-tls (which
    podsim signs with its issuer's CA, not the run's: see podsim/pod_secrets.py)."""
    rel = Path(*[".."] * len(work.parts[1:])) / SECURE.relative_to("/")  # kustomize takes no absolute path
    work.mkdir()
    (work / "certificate.yaml").write_text(yaml.safe_dump(QUORUM_CERTIFICATE))
    kustomization = {"resources": [str(rel), "certificate.yaml"], "components": [str(rel / "quorum-ca")]}
    (work / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return work


def tls_context(secret: Path, ca: Path) -> ssl.SSLContext:
    """A TLS client holding the Secret dir ``secret``'s certificate and trusting ``ca`` (no name check)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(ca)
    context.load_cert_chain(secret / "tls.crt", secret / "tls.key")
    return context


def certificates(pem: Path) -> list[bytes]:
    """The certificates of a PEM file (a key store, a tls.crt) in DER: what it holds, whatever its line breaks."""
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem.read_text(), re.DOTALL)
    return [ssl.PEM_cert_to_DER_cert(block) for block in blocks]


@IMAGE_MODE
def test_with_the_quorum_ca_component_a_member_holding_a_clients_certificate_cannot_join(
    sim: Callable[..., Simulation], tmp_path: Path
) -> None:
    """The secure overlay with the quorum-ca component, from the image: the quorum forms with
    zk-quorum-tls (its own CA), clients write with zk-tls's; a rogue pod 2 whose quorum key store
    holds zk-tls's certificate (the clients' CA signed it: what a client holds) and which trusts the
    quorum's CA (so only the members' check can keep it out) is never counted by the leader."""
    s = boot(sim, with_quorum_ca(tmp_path / "kustomization"))
    quorum_ca, clients_ca = s.tls_ca(QUORUM_ISSUER), s.tls_ca()
    quorum, clients = s.secret_dir(QUORUM_SECRET), s.secret_dir(SECRET)
    assert (quorum / "ca.crt").read_text() == quorum_ca.read_text() != clients_ca.read_text()
    # Each member presents zk-quorum-tls on 2888/3888 and zk-tls on 2281, and trusts the quorum's CA on
    # 2888/3888; the leader (wait_healthy saw one, and two followers) counts both followers synced.
    for ordinal in range(s.replicas):
        conf = s.pods[ordinal].volume_dirs()["/opt/zookeeper/conf"]
        stores = {role: certificates(conf / f"{role}-keystore.pem") for role in ("quorum", "client")}
        assert stores == {"quorum": certificates(quorum / "tls.crt"), "client": certificates(clients / "tls.crt")}
        # In the image (read-only root, uid 1000), the TLS renewal watch runs beside the JVM.
        pid = s.pods[ordinal].main_pid()
        assert pid is not None and len(renewal_watches(pid)) == 1, pid
    cfg = (s.pvc_dir(0, "datadir") / "data" / "membership" / "zoo.cfg").read_text()
    assert "sslQuorum=true\n" in cfg and f"ssl.quorum.trustStore.location={QUORUM_TLS_DIR}/ca.crt\n" in cfg, cfg
    first = leader(s)
    s.wait(lambda: learners(s, first) == ("2", "2"), 30, f"zk-{first} counting 2 learners, 2 synced followers")
    # At the TLS level: the election port holds a peer with zk-quorum-tls open, and refuses one with
    # zk-tls's certificate although that peer trusts the quorum's CA (only the server refuses it).
    ours, theirs = tls_context(quorum, quorum_ca), tls_context(clients, quorum_ca)
    seen = {
        i: (at_the_election_port(s, i, ours, PEER_WAIT), at_the_election_port(s, i, theirs, REFUSAL_WAIT))
        for i in range(3)
    }
    assert all(a.startswith("held open") and b.startswith("refused") for a, b in seen.values()), seen

    membership = config_of(s, 0)
    s.kill(2, hold=True)
    s.wait(lambda: [s.mode(i) for i in (0, 1)].count("leader") == 1, 60, "a leader among zk-0 and zk-1")
    before = next(i for i in (0, 1) if s.mode(i) == "leader")
    work = tmp_path / "clients-ca"
    held = {"tls.crt": clients / "tls.crt", "tls.key": clients / "tls.key"}  # what the test's clients hold
    rogue_tls = rogue_secret(work, "tls", {**held, "ca.crt": clients_ca})
    rogue_quorum = rogue_secret(work, "quorum-tls", {**held, "ca.crt": quorum_ca})
    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(10, 60)
        secrets = {TLS_DIR: rogue_tls, QUORUM_TLS_DIR: rogue_quorum}
        watch_a_rogue(s, work, "clients-ca", membership, before, secrets, rogue_quorum)
        writer.wait_for(len(writer.acknowledged) + 10, 60)
    assert watch.max_leaders == 1 and watch.split_polls() == [], watch.summary()

    restarted = time.monotonic()
    s.restart(2)
    wait_healthy(s, what="the real zk-2 back")
    took = time.monotonic() - restarted
    last = leader(s)
    s.wait(lambda: learners(s, last) == ("2", "2"), 30, f"zk-{last} counting the real zk-2 again")
    assert_all_members_agree(s, writer.acknowledged)
    print(f"\nquorum-ca: a rogue with a clients'-CA certificate refused for {ROGUE_WATCH:g}s (election port: "
          f"{seen[0][1]}); {len(writer.acknowledged)} writes, 0 lost; the real zk-2 rejoined in {took:.1f}s; "
          f"{watch.summary()}")  # fmt: skip


def test_the_overlay_is_the_one_booted() -> None:
    sts = load(SECURE)
    assert sts.env["ZK_SECURE_CLIENT_PORT"] == str(SECURE_PORT) and sts.env["ZK_QUORUM_TLS"] == "on"
    assert "ZK_QUORUM_SASL_DIR" not in sts.env and "ZK_FIPS_MODE" not in sts.env
    assert {secret for _, secret, _, _ in sts.secrets} == {"zk-super", SECRET, CLIENT_SASL}


def test_quorum_tls_is_turned_on_by_three_rolling_restarts_without_losing_a_write(
    sim: Callable[..., Simulation],
) -> None:
    """docs/tls-and-sasl.md's steps, each a rolling update of the StatefulSet: port unification on, quorum TLS
    on, port unification off; a writer and a leader watch run throughout (on the image's ZooKeeper,
    pods from this machine's files)."""
    secure = on_installation(load(SECURE), UPSTREAM)
    steps = [
        {"ZK_QUORUM_TLS": "off"},
        {"ZK_QUORUM_TLS": "off", "ZK_PORT_UNIFICATION": "on"},
        {"ZK_QUORUM_TLS": "on", "ZK_PORT_UNIFICATION": "on"},
        {"ZK_QUORUM_TLS": "on", "ZK_PORT_UNIFICATION": "off"},
    ]
    s = boot(sim, dataclasses.replace(secure, env={**secure.env, **steps[0]}))
    took = []
    with LeaderWatch(s) as watch, Writer(s) as writer:
        writer.wait_for(10, 60)
        for step in steps[1:]:
            started = time.monotonic()
            s.update(dataclasses.replace(secure, env={**secure.env, **step}))
            s.wait(lambda: s.rollout_done() and healthy(s), 240, f"the roll to {step}")
            took.append(time.monotonic() - started)
            writer.wait_for(len(writer.acknowledged) + 10, 60)
    assert watch.max_leaders == 1, watch.summary()
    assert_all_members_agree(s, writer.acknowledged)
    cfg = (s.pvc_dir(0, "datadir") / "data" / "membership" / "zoo.cfg").read_text()
    assert "sslQuorum=true\n" in cfg and "portUnification=false\n" in cfg
    rolls = ", ".join(f"{t:.1f}s" for t in took)
    print(f"\nquorum TLS rolled on in 3 rolls ({rolls}): {len(writer.acknowledged)} writes, 0 lost; {watch.summary()}")

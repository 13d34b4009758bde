"""manifests/overlays/secure in the pod simulator, from the image: TLS for clients and the quorum,
SASL DIGEST-MD5 between members and for clients.

podsim makes the ``zk-tls`` Secret as cert-manager's CA issuer would (one CA per run, a
certificate naming every pod); the host's observers (status table, LeaderWatch, Writer, member
reads) connect on 2281 as a client holding that certificate (``Simulation.clients_over_tls``).

- The overlay boots 3 pods whose members found each other over TLS (the dynamic join and the
  membership reads go to the peers' secure port), survives a leader kill and a rolling restart with
  every acknowledged write on every member and never two leaders; the plain port 2181 answers
  nobody outside the pod; a client without a certificate, or with one but without the clients'
  SASL account or with a wrong password, gets no session and writes nothing.
- A rogue member (pod 2's host name, myid, data and configuration, but a quorum certificate from
  another CA, or the right certificate and a wrong quorum SASL password) started while pod 2 is
  held down cannot join: the leader, the membership and the
  data stay as they were, the rogue never serves, and the real pod 2 rejoins afterwards.
- Quorum TLS turned on in a serving ensemble by docs/tls-and-sasl.md's three rolling restarts (port
  unification on, quorum TLS on, port unification off) loses no write and never has two leaders.
Every refusal is judged by what the servers did (sessions, modes, znodes), not by a log line.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kazoo.client import KazooClient  # type: ignore[import-untyped]

from podsim.cluster import Simulation
from podsim.pki import make_ca, make_leaf
from tests.e2e.helpers import (
    IMAGE_MODE,
    REPO,
    LeaderWatch,
    Writer,
    assert_all_members_agree,
    healthy,
    leader,
    load,
    missing_requirements,
    wait_healthy,
)
from tests.helpers import intruder_writes

REQUIRED = missing_requirements()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(REQUIRED is not None, reason=str(REQUIRED))]
SECURE = REPO / "manifests" / "overlays" / "secure"
SECRET, SECURE_PORT, CLIENT_SASL = "zk-tls", 2281, "zk-client-sasl"
ROGUE_WATCH = 15.0  # seconds the rogue is watched: a member with the right certificate joins in ~2


def boot(sim: Callable[..., Simulation]) -> Simulation:
    s = sim(SECURE)
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


# kazoo's connection thread ends in SessionClosedRequireSaslError for the client refused on purpose.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@IMAGE_MODE
def test_secure_overlay_keeps_every_write_through_a_leader_kill_and_a_rolling_restart(
    sim: Callable[..., Simulation],
) -> None:
    s = boot(sim)
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
    print(f"\nsecure overlay: {len(writer.acknowledged)} writes acknowledged, 0 lost; {watch.summary()}")
    assert_no_secret_shows(s)


def assert_no_secret_shows(s: Simulation) -> None:
    """The quorum password and the key's lines are in no JVM's argv or environment, nor in any
    pod's log (zkboot's lines and ZooKeeper's)."""
    password = (s.secret_dir("zk-quorum-sasl") / "password").read_text().strip()
    client_password = (s.secret_dir(CLIENT_SASL) / "password").read_text().strip()
    key_lines = [line for line in (s.secret_dir(SECRET) / "tls.key").read_text().splitlines() if "-----" not in line]
    secrets = [password, client_password, *key_lines[:3]]
    for ordinal in range(s.replicas):
        pid = s.pods[ordinal].main_pid()
        assert pid is not None
        exposed = Path(f"/proc/{pid}/cmdline").read_bytes() + Path(f"/proc/{pid}/environ").read_bytes()
        assert b"java" in Path(f"/proc/{pid}/cmdline").read_bytes()
        log = (s.root / "logs" / f"{s.sts.name}-{ordinal}.log").read_text(errors="replace")
        for secret in secrets:
            assert secret.encode() not in exposed, f"a secret in zk-{ordinal}'s JVM argv or environment"
            assert secret not in log, f"a secret in zk-{ordinal}'s log"


def rogue_secret(s: Simulation, work: Path) -> Path:
    """A TLS Secret's dir for pod 2's names, from a CA the ensemble does not trust."""
    ca, ca_key = make_ca(work / "rogue-ca", "rogue-ca")
    names = ["zk-2.zk-hs.default.svc.cluster.local", "zk-2"]
    cert, key = make_leaf(work / "rogue-leaf", "zk-2", ca, ca_key, names, ["127.0.0.1"])
    secret = work / "rogue-secret"
    secret.mkdir()
    for source, name in ((cert, "tls.crt"), (key, "tls.key"), (ca, "ca.crt")):
        shutil.copy(source, secret / name)
        (secret / name).chmod(0o444)
    return secret


@IMAGE_MODE
@pytest.mark.parametrize("wrong", ["certificate", "password"])
def test_a_rogue_member_without_the_ensembles_credentials_cannot_join(
    sim: Callable[..., Simulation], tmp_path: Path, wrong: str
) -> None:
    """``certificate``: its quorum certificate from another CA; ``password``: the right certificate,
    a wrong quorum SASL password."""
    s = boot(sim)
    assert s.image is not None
    membership = config_of(s, 0)
    conf = s.pods[2].volume_dirs()["/opt/zookeeper/conf"]
    s.kill(2, hold=True)
    s.wait(lambda: [s.mode(i) for i in (0, 1)].count("leader") == 1, 60, "a leader among zk-0 and zk-1")
    before = next(i for i in (0, 1) if s.mode(i) == "leader")

    # The rogue: pod 2's data and configuration as they were, its quorum key store from another CA.
    rogue_data, rogue_conf = tmp_path / "data", tmp_path / "conf"
    shutil.copytree(s.pvc_dir(2, "datadir"), rogue_data, symlinks=True)
    shutil.copytree(conf, rogue_conf)
    if wrong == "certificate":
        secret = rogue_secret(s, tmp_path)
        store = (secret / "tls.key").read_text() + (secret / "tls.crt").read_text()
        (rogue_conf / "quorum-keystore.pem").write_text(store)
    else:
        secret = tmp_path / "rogue-secret"
        shutil.copytree(s.secret_dir(SECRET), secret)
        password = (s.secret_dir("zk-quorum-sasl") / "password").read_text().strip()
        jaas = (rogue_conf / "jaas.conf").read_text()
        assert jaas.count(f'"{password}"') == 2, "the JAAS file does not hold the quorum password twice"
        (rogue_conf / "jaas.conf").write_text(jaas.replace(f'"{password}"', '"not-the-password"'))
    for path in (rogue_data, rogue_conf, secret):
        subprocess.run(["chown", "-R", "1000:1000", str(path)], check=True, timeout=30)
    zoo_cfg = "/var/lib/zookeeper/data/membership/zoo.cfg"
    name = f"{s.run_id}-rogue"
    argv = s.image.run_argv(
        name, "zk-2", s.pods[2].netns,
        [(rogue_data, "/var/lib/zookeeper", False), (rogue_conf, "/opt/zookeeper/conf", False),
         (secret, "/opt/zookeeper/secrets/tls", True), (tmp_path / "tmp", "/tmp", False),
         (s.secret_dir("zk-quorum-sasl"), "/opt/zookeeper/secrets/quorum-sasl", True),
         (tmp_path / "logs", "/var/log/zookeeper", False)],
        {"ZOOCFGDIR": "/opt/zookeeper/conf", "ZOO_LOG_DIR": "/var/log/zookeeper", "ZK_SERVER_HEAP": "256"},
        s.sts.security, s.sts.memory_limit, ["zkServer.sh", "start-foreground", zoo_cfg],
    )  # fmt: skip
    for directory in ("tmp", "logs"):
        (tmp_path / directory).mkdir()
        shutil.chown(tmp_path / directory, 1000, 1000)
    log = (tmp_path / "rogue.log").open("wb")
    rogue = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=s.image.store.env)
    try:
        with LeaderWatch(s) as watch, Writer(s) as writer:
            writer.wait_for(10, 60)
            deadline = time.monotonic() + ROGUE_WATCH
            states = set()
            while time.monotonic() < deadline:
                assert rogue.poll() is None, (tmp_path / "rogue.log").read_text()[-2000:]
                probe = subprocess.run(
                    s.image.exec_argv(name, ["zkboot", "probe", "ready"]), env=s.image.store.env,
                    capture_output=True, text=True, timeout=30, check=False,
                )  # fmt: skip
                states.add(probe.returncode)
                time.sleep(0.5)
            writer.wait_for(len(writer.acknowledged) + 10, 60)
        assert states == {1}, "the rogue served at some point"
        assert s.mode(before) == "leader" and watch.max_leaders == 1, watch.summary()
        assert watch.split_polls() == [], watch.summary()
        assert config_of(s, 0) == membership, "the rogue changed the membership"
    finally:
        s.image.signal(name, "KILL")
        rogue.wait(timeout=30)
        s.image.remove(name)
        log.close()

    restarted = time.monotonic()
    s.restart(2)
    wait_healthy(s, what="the real zk-2 back")
    took = time.monotonic() - restarted
    print(f"\nrogue (wrong {wrong}) refused for {ROGUE_WATCH:g}s; the real zk-2 rejoined in {took:.1f}s")
    assert_all_members_agree(s, writer.acknowledged)


def test_the_overlay_is_the_one_booted() -> None:
    sts = load(SECURE)
    assert sts.env["ZK_SECURE_CLIENT_PORT"] == str(SECURE_PORT) and sts.env["ZK_QUORUM_TLS"] == "on"
    assert {secret for _, secret, _, _ in sts.secrets} == {"zk-super", SECRET, "zk-quorum-sasl", CLIENT_SASL}


def test_quorum_tls_is_turned_on_by_three_rolling_restarts_without_losing_a_write(
    sim: Callable[..., Simulation],
) -> None:
    """docs/tls-and-sasl.md's steps, each a rolling update of the StatefulSet: port unification on, quorum TLS
    on, port unification off; a writer and a leader watch run throughout (pods from this machine's
    files: the image's pods are booted by the tests above)."""
    secure = load(SECURE)
    steps = [
        {"ZK_QUORUM_TLS": "off"},
        {"ZK_QUORUM_TLS": "off", "ZK_PORT_UNIFICATION": "on"},
        {"ZK_QUORUM_TLS": "on", "ZK_PORT_UNIFICATION": "on"},
        {"ZK_QUORUM_TLS": "on", "ZK_PORT_UNIFICATION": "off"},
    ]
    s = sim(dataclasses.replace(secure, env={**secure.env, **steps[0]}))
    s.clients_over_tls(SECRET, SECURE_PORT, CLIENT_SASL)
    wait_healthy(s)
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

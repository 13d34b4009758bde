"""The static-membership guard's parts: reading a membership, and asking peers under a deadline.

The whole guard against a real serving ensemble is in tests/test_ensemble.py; here fakes stand in
for peers that never answer, refuse, or answer srvr without being a ZooKeeper kazoo can talk to.
"""

from __future__ import annotations

import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.fakes import Canned, FakeServer, NeverAnswers, same_port_on_loopbacks, srvr_text
from tests.helpers import clean_env, script, snapshot, stub_home
from zkboot.client.access import Access
from zkboot.ensemble.config import Server, describe, parse_config
from zkboot.ensemble.guard import check_static
from zkboot.errors import EnvironmentProblem
from zkboot.identity import Identity, Member

DOMAIN = "zk-hs.default.svc.cluster.local"


def test_parse_config_reads_every_form_zookeeper_writes() -> None:
    text = (
        "server.1=zk-0.zk-hs.default.svc.cluster.local:2888:3888:participant\n"
        "server.2=ZK-1.zk-hs.default.svc.cluster.local:2888:3888:participant;0.0.0.0:2181\n"
        "server.3=10.0.0.3:2890:3890\n"
        "server.4=[fd00::4]:2888:3888:observer;[::]:2181\n"
        "version=100000003\n"
        "not a line\nserver.x=zk-9:1:2\nserver.5=zk-5\n"
    )
    assert parse_config(text) == (
        Server(1, "zk-0.zk-hs.default.svc.cluster.local", 2888, 3888),
        Server(2, "zk-1.zk-hs.default.svc.cluster.local", 2888, 3888),
        Server(3, "10.0.0.3", 2890, 3890),
        Server(4, "fd00::4", 2888, 3888),
    )
    assert describe(parse_config("server.2=b:1:2\nserver.1=a:1:2\n")) == "server.1=a:1:2,server.2=b:1:2"


def three(*hosts: str) -> Identity:
    members = tuple(Member(i + 1, h) for i, h in enumerate(hosts))
    return Identity(hostname="zk-0", name="zk", ordinal=0, myid=1, domain=DOMAIN, members=members)


def test_no_peer_answering_goes_ahead_within_the_deadline() -> None:
    """A first boot or a whole-ensemble restart: nobody serves, so nobody is split from."""
    timeout = 0.5
    fakes: list[FakeServer] = same_port_on_loopbacks([lambda h, p: NeverAnswers(h, p)] * 3)
    try:
        for fake in fakes:
            fake.start()
        start = time.monotonic()
        note = check_static(
            three("127.0.0.1", "127.0.0.2", "127.0.0.3"), 2888, 3888, Access(fakes[0].port), timeout, readable=True
        )
        took = time.monotonic() - start
    finally:
        for fake in fakes:
            fake.stop()
    assert note == "none of the 2 peers serves: a first boot or a whole-ensemble restart"
    # Both silent peers in parallel: one deadline (plus the join's grace), not two.
    assert took < 2 * timeout, took


def test_a_serving_peer_whose_membership_cannot_be_read_stops_the_start() -> None:
    """srvr says leader, but no session can be had: better a refused start (Kubernetes retries)."""
    leader = {"srvr": srvr_text("leader")}
    fakes = same_port_on_loopbacks([lambda h, p: Canned(leader, h, p)] * 3)
    try:
        for fake in fakes:
            fake.start()
        who = three("127.0.0.1", "127.0.0.2", "127.0.0.3")
        with pytest.raises(EnvironmentProblem) as refused:
            check_static(who, 2888, 3888, Access(fakes[0].port), 0.5, readable=True)
        note = check_static(who, 2888, 3888, Access(fakes[0].port), 0.5, readable=False)
    finally:
        for fake in fakes:
            fake.stop()
    (problem,) = refused.value.problems
    assert problem.startswith("could not read the membership of the serving ensemble from 127.0.0.2 (")
    assert problem.endswith("; refusing to start without comparing server lists (expected an answer on a retry)")
    assert note.startswith("ZooKeeper before 3.5 keeps no membership to compare: 127.0.0.2 (")


def test_standalone_asks_nobody() -> None:
    alone = Identity(hostname="zk-0", name="zk", ordinal=0, myid=1, domain="", members=())
    assert check_static(alone, 2888, 3888, Access(1), 0.5, readable=True) == "standalone: no peers to ask"


# -- dynamic membership's settings, through the real commands ------------------------------------------


PASSWORD = "correct horse battery staple"


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=False)


def test_dynamic_needs_the_password_file(tmp_path: Path) -> None:
    env = clean_env(tmp_path, ZK_MEMBERSHIP="dynamic", ZK_REPLICAS="3", ZK_HOSTNAME="zk-0", ZK_DOMAIN=DOMAIN)
    result = _run([script("zkGenConfig.sh")], env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "zkGenConfig.sh: error: ZK_MEMBERSHIP=dynamic needs --super-password-file / ZK_SUPER_PASSWORD_FILE: "
        "expected the file of the super user's password (reconfiguration is for the super user only)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_password_file_stops_a_start(tmp_path: Path) -> None:
    missing = tmp_path / "secret" / "password"
    env = clean_env(
        tmp_path, ZK_MEMBERSHIP="dynamic", ZK_SUPER_PASSWORD_FILE=str(missing), ZK_HOSTNAME="zk-0", ZK_DOMAIN=DOMAIN
    )
    before = snapshot(tmp_path)
    result = _run([script("zkGenConfig.sh"), "--servers=3"], env)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"zkGenConfig.sh: error: ZK_SUPER_PASSWORD_FILE={missing}: cannot read ("), line
    assert snapshot(tmp_path) == before


def test_dynamic_refuses_a_zookeeper_without_reconfiguration(tmp_path: Path) -> None:
    home = stub_home(tmp_path / "zk34", "exit 0\n", jars=["zookeeper-3.4.14.jar"])
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    env = clean_env(tmp_path / "pod", ZK_HOME=str(home), ZK_SUPER_PASSWORD_FILE=str(secret))
    result = _run([script("zkboot"), "start", "--membership=dynamic", "--hostname=zk-0", f"--domain={DOMAIN}"], env)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "ZooKeeper 3.4.14 at" in line and "expected 3.5.3 or later (or --membership static)" in line, line
    assert not (tmp_path / "pod").exists()


def test_the_password_and_its_digest_stay_out_of_render_and_the_progress_lines(tmp_path: Path) -> None:
    from zkboot.start.render import super_digest

    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    env = clean_env(tmp_path / "pod", ZK_SUPER_PASSWORD_FILE=str(secret), ZK_HOSTNAME="zk-0", ZK_DOMAIN=DOMAIN)
    shown = _run([script("zkboot"), "render", "--servers=3", "--zookeeper-home=/nonexistent"], env)
    assert shown.returncode == 0, shown.stderr
    assert "DigestAuthenticationProvider.superDigest=super:<masked>" in shown.stdout.splitlines()
    digest = super_digest(PASSWORD, "SHA-256")  # no installation, or Debian's 3.8: SHA-256
    written = _run([script("zkboot"), "render", "--servers=3", "--output-dir", str(tmp_path / "out")], env)
    assert written.returncode == 0, written.stderr
    on_disk = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    for text in (shown.stdout, shown.stderr, written.stderr, on_disk):
        assert PASSWORD not in text and digest not in text
    # A real start (here zkGenConfig.sh) writes the real digest, and says nothing of it.
    generated = _run([script("zkGenConfig.sh"), "--servers=1"], env)
    assert generated.returncode == 0, generated.stderr
    zoo_cfg = tmp_path / "pod" / "conf" / "zoo.cfg"
    assert f"DigestAuthenticationProvider.superDigest=super:{digest}" in zoo_cfg.read_text()
    assert stat.S_IMODE(zoo_cfg.stat().st_mode) == 0o600  # the digest is readable by the server's user only
    assert PASSWORD not in generated.stderr and digest not in generated.stderr

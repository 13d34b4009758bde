"""The super user's digest, exposed no more than it must be: what a real server does with it.

zoo.cfg holds the digest, so it is written 0600 and the server runs with umask 077 (the files it
writes later, zoo.cfg at each reconfiguration included, are its user's only); on ZooKeeper 3.7+ the
digest scheme hashes with SHA-256 rather than SHA1; and the admin server, which shows every system
property to whoever asks, listens on 127.0.0.1 unless told otherwise.  Then the settings around it:
SHA1 where ZooKeeper has nothing else, skipACL warned about, a password read again at each start.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient  # type: ignore[import-untyped]
from kazoo.exceptions import NoAuthError  # type: ignore[import-untyped]
from kazoo.security import ACL, Id, Permissions, make_digest_acl  # type: ignore[import-untyped]

from tests.helpers import (
    ZkPaths,
    ZooKeeper,
    clean_env,
    four_letter,
    free_port,
    on_each_installation,
    script,
    stop,
    stub_home,
    wait_until,
)

PASSWORD = "rotate-me-3b1f"
DIGEST_PROPERTY = "zookeeper.DigestAuthenticationProvider.digestAlg"
START_TIMEOUT = 60.0


def digest(password: str, algorithm: str, user: str = "super") -> str:
    """ZooKeeper's digest of ``<user>:<password>``, computed here independently of zkboot's code."""
    return base64.b64encode(hashlib.new(algorithm, f"{user}:{password}".encode()).digest()).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=False)


@pytest.mark.integration
@on_each_installation
def test_super_digest_is_sha256_private_and_the_admin_server_stays_on_loopback(
    zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper
) -> None:
    paths = ZkPaths(tmp_path)
    secret = tmp_path / "super-password"
    secret.write_text(PASSWORD + "\n")
    admin = free_port()
    while admin == paths.client_port:
        admin = free_port()
    command = [script("zkboot"), "start", *paths.flags(), f"--super-password-file={secret}"]
    started = zk_launcher([*command, "--admin-server=on", f"--admin-port={admin}"], paths)

    def serving() -> bool:
        assert started.process.poll() is None, f"server exited:\n{started.text()[-3000:]}"
        return "Mode: " in four_letter(started.port, "srvr", timeout=1.0)

    wait_until(serving, START_TIMEOUT, what=f"a serving server on port {started.port}")

    # zkboot's zoo.cfg: the SHA-256 digest, readable by the server's user only.
    zoo_cfg = paths.conf / "zoo.cfg"
    assert f"DigestAuthenticationProvider.superDigest=super:{digest(PASSWORD, 'sha256')}\n" in zoo_cfg.read_text()
    assert mode(zoo_cfg) == 0o600
    # The server (the PID zkboot exec'ed into) runs with umask 077.
    umask = next(
        line for line in Path(f"/proc/{started.process.pid}/status").read_text().splitlines() if "Umask" in line
    )
    assert umask.split() == ["Umask:", "0077"]

    # Only the super user reads a znode whose ACL lets in nobody else: the server checks the
    # password against the SHA-256 digest (hashing with SHA1, it would refuse the super user).
    hosts = f"127.0.0.1:{started.port}"
    anonymous = KazooClient(hosts=hosts, timeout=10)
    root = KazooClient(hosts=hosts, timeout=10, auth_data=[("digest", f"super:{PASSWORD}")])
    try:
        anonymous.start(timeout=15)
        anonymous.create("/locked", b"kept", acl=[make_digest_acl("nobody", "unknown", all=True)])
        with pytest.raises(NoAuthError):
            anonymous.get("/locked")
        root.start(timeout=15)
        assert root.get("/locked")[0] == b"kept"
    finally:
        for client in (anonymous, root):
            client.stop()
            client.close()
    # A file the server wrote after zkboot's exec (its transaction log): 0600 under that umask.
    logs = sorted((tmp_path / "datalog" / "version-2").glob("log.*"))
    assert logs and all(mode(log) == 0o600 for log in logs), [(log.name, oct(mode(log))) for log in logs]

    # The admin server listens on 127.0.0.1 only: another loopback address is refused.
    assert f"Started AdminServer on address 127.0.0.1, port {admin}" in started.text()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.2", admin), timeout=5):
        pass
    url = f"http://127.0.0.1:{admin}/commands/system_properties"
    with urllib.request.urlopen(url, timeout=10) as response:
        properties = json.loads(response.read(1 << 20))
    assert properties[DIGEST_PROPERTY] == "SHA-256"


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root for unshare")
@on_each_installation
def test_the_files_zookeeper_rewrites_at_a_reconfiguration_are_its_own(
    zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper
) -> None:
    """Dynamic membership, one member: a reconfiguration, which only the super user may commit,
    makes ZooKeeper write a new dynamic file and rewrite zoo.cfg on the volume; both are 0600."""
    domain = "zk-hs.test.svc.cluster.local"
    hosts = tmp_path / "hosts"  # the StatefulSet name on loopback, as in tests/test_ensemble.py
    hosts.write_text(f"127.0.0.1 localhost\n127.0.0.1 zk-0.{domain} zk-0\n")
    secret = tmp_path / "super-password"
    secret.write_text(PASSWORD)
    paths = ZkPaths(tmp_path / "zk-0")
    paths.root.mkdir()
    quorum, election = free_port(), free_port()
    settings = [f"--domain={domain}", "--servers=1", "--membership=dynamic", f"--super-password-file={secret}"]
    settings += [f"--server-port={quorum}", f"--election-port={election}"]
    shell = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
    pod = ["unshare", "--mount", "--", "sh", "-c", shell, "sh", str(hosts)]
    started = zk_launcher([*pod, script("zkboot"), "start", *paths.flags(), *settings], paths)
    membership = paths.data / "membership"

    def dynamic_file() -> str:
        assert started.process.poll() is None, f"server exited:\n{started.text()[-3000:]}"
        entries = dict(line.split("=", 1) for line in (membership / "zoo.cfg").read_text().splitlines() if "=" in line)
        return entries.get("dynamicConfigFile", "")

    hosts_arg = f"127.0.0.1:{paths.client_port}"
    anonymous = KazooClient(hosts=hosts_arg, timeout=10)
    root = KazooClient(hosts=hosts_arg, timeout=10, auth_data=[("digest", f"super:{PASSWORD}")])
    try:
        wait_until(lambda: "Mode: " in four_letter(paths.client_port, "srvr", timeout=1.0), START_TIMEOUT,
                   what="the member serving")  # fmt: skip
        first = dynamic_file()
        root.start(timeout=15)
        config = root.get("/zookeeper/config")[0].decode()
        (line,) = [entry for entry in config.splitlines() if entry.startswith("server.1=")]
        anonymous.start(timeout=15)
        with pytest.raises(NoAuthError):
            anonymous.reconfig(joining=line, leaving=None, new_members=None)
        root.reconfig(joining=line, leaving=None, new_members=None)
        wait_until(lambda: dynamic_file() != first, 20, what="ZooKeeper rewriting zoo.cfg")
    finally:
        for client in (anonymous, root):
            client.stop()
            client.close()
    rewritten = Path(dynamic_file())
    assert rewritten.parent == membership and rewritten.is_file()
    assert (oct(mode(membership / "zoo.cfg")), oct(mode(rewritten))) == ("0o600", "0o600")
    assert f"superDigest=super:{digest(PASSWORD, 'sha256')}\n" in (membership / "zoo.cfg").read_text()


@pytest.mark.integration
def test_digest_acls_set_under_sha1_need_the_super_user_after_the_change(zk_launcher: Any, tmp_path: Path) -> None:
    """What the docs warn about: an ACL the server hashed with SHA1 no longer matches its user's
    password once the server hashes with SHA-256; the super user still reaches the znode and sets
    the ACL again.  (Debian's 3.8.0, the same volume started twice.)"""
    paths = ZkPaths(tmp_path)
    secret = tmp_path / "super-password"
    secret.write_text(PASSWORD)
    command = [script("zkboot"), "start", *paths.flags(), f"--super-password-file={secret}"]
    hosts = f"127.0.0.1:{paths.client_port}"

    def session(auth: str) -> KazooClient:
        def serving() -> bool:
            return "Mode: " in four_letter(paths.client_port, "srvr", timeout=1.0)

        wait_until(serving, START_TIMEOUT, what=f"a serving server on port {paths.client_port}")
        client = KazooClient(hosts=hosts, timeout=10, auth_data=[("digest", auth)])
        client.start(timeout=15)
        return client

    first = zk_launcher([*command, "--digest-algorithm=SHA1"], paths)
    app = session("app:app-secret")
    try:
        app.create("/owned", b"mine", acl=[ACL(Permissions.ALL, Id("auth", ""))])  # the server hashes app's id
        assert app.get("/owned")[0] == b"mine"
    finally:
        app.stop()
        app.close()
    stop(first.process)

    zk_launcher(command, paths)  # --digest-algorithm auto: SHA-256 on 3.8
    app, root = session("app:app-secret"), session(f"super:{PASSWORD}")
    try:
        with pytest.raises(NoAuthError):
            app.get("/owned")
        assert root.get("/owned")[0] == b"mine"
        root.set_acls("/owned", [ACL(Permissions.ALL, Id("digest", f"app:{digest('app-secret', 'sha256', 'app')}"))])
        assert app.get("/owned")[0] == b"mine"
    finally:
        for client in (app, root):
            client.stop()
            client.close()


def test_older_zookeeper_keeps_sha1_and_refuses_another(tmp_path: Path) -> None:
    """ZooKeeper before 3.7 hashes digests with SHA1 only: zkboot writes a SHA1 digest and no
    digestAlg there, and refuses to be told otherwise (exit 1, one line, nothing written)."""
    home = stub_home(tmp_path / "zk36", "exit 0\n", jars=["zookeeper-3.6.4.jar"])
    secret = tmp_path / "super-password"
    secret.write_text(PASSWORD)
    env = clean_env(tmp_path / "pod", ZK_HOME=str(home), ZK_SUPER_PASSWORD_FILE=str(secret), ZK_HOSTNAME="zk-0")
    generated = run([script("zkGenConfig.sh"), "--servers=1"], env)
    assert generated.returncode == 0, generated.stderr
    conf = tmp_path / "pod" / "conf"
    assert f"superDigest=super:{digest(PASSWORD, 'sha1')}\n" in (conf / "zoo.cfg").read_text()
    assert DIGEST_PROPERTY not in (conf / "java.env").read_text()

    asked = run([script("zkGenConfig.sh"), "--servers=1"], {**env, "ZK_DIGEST_ALGORITHM": "sha3-256"})
    assert asked.returncode == 1
    (line,) = asked.stderr.splitlines()
    assert "ZK_DIGEST_ALGORITHM=SHA3-256: ZooKeeper 3.6.4 at" in line and "expected 3.7.0 or later" in line, line


@pytest.mark.parametrize("algorithm", ["SHA3-256", "SHA1"])
def test_a_chosen_digest_algorithm_is_the_one_hashed_and_passed_to_the_jvm(tmp_path: Path, algorithm: str) -> None:
    home = stub_home(tmp_path / "zk39", "exit 0\n", jars=["zookeeper-3.9.5.jar"])
    secret = tmp_path / "super-password"
    secret.write_text(PASSWORD)
    env = clean_env(tmp_path / "pod", ZK_HOME=str(home), ZK_SUPER_PASSWORD_FILE=str(secret), ZK_HOSTNAME="zk-0")
    generated = run([script("zkGenConfig.sh"), "--servers=1", f"--digest-algorithm={algorithm}"], env)
    assert generated.returncode == 0, generated.stderr
    conf = tmp_path / "pod" / "conf"
    hashed = {"SHA3-256": "sha3_256", "SHA1": "sha1"}[algorithm]
    assert f"superDigest=super:{digest(PASSWORD, hashed)}\n" in (conf / "zoo.cfg").read_text()
    flag = f"-D{DIGEST_PROPERTY}={algorithm}"
    # SHA1 is ZooKeeper's own default: no flag needed.
    assert (flag in (conf / "java.env").read_text()) == (algorithm != "SHA1")


def test_each_start_reads_the_passwords_again(tmp_path: Path) -> None:
    """What a rotation rests on: the super user's digest and the JAAS file come from the Secrets'
    files as they are at that start."""
    secret = tmp_path / "super-password"
    sasl = tmp_path / "client-sasl"
    sasl.mkdir()
    (sasl / "username").write_text("app")
    env = clean_env(tmp_path / "pod", ZK_SUPER_PASSWORD_FILE=str(secret), ZK_HOSTNAME="zk-0")
    env.update(
        ZK_CLIENT_SASL_DIR=str(sasl), ZK_HOME=str(stub_home(tmp_path / "zk", "exit 0\n", ["zookeeper-3.9.5.jar"]))
    )
    conf = tmp_path / "pod" / "conf"
    for password in ("old-super", "new-super"):
        secret.write_text(password)
        (sasl / "password").write_text(f"{password}-client")
        generated = run([script("zkGenConfig.sh"), "--servers=1"], env)
        assert generated.returncode == 0, generated.stderr
        assert f"superDigest=super:{digest(password, 'sha256')}\n" in (conf / "zoo.cfg").read_text()
        assert f'user_app="{password}-client";' in (conf / "jaas.conf").read_text()


def test_skip_acl_is_written_with_a_warning_under_static_membership(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "pod", ZK_HOSTNAME="zk-0")
    shown = run([script("zkboot"), "render", "--zookeeper-home=/nonexistent", "--set", "skipACL=yes"], env)
    assert shown.returncode == 0, shown.stderr
    assert "skipACL=yes" in shown.stdout.splitlines()
    warned = [line for line in shown.stderr.splitlines() if "skipACL" in line]
    assert warned == [
        "zkboot: warning: zoo.cfg entry skipACL=yes turns every ACL check off: any client may read, "
        "change and delete every znode"
    ]
    # skipACL=no keeps ACLs on: nothing to warn about.
    kept = run([script("zkboot"), "render", "--zookeeper-home=/nonexistent", "--set", "skipACL=no"], env)
    assert kept.returncode == 0 and "skipACL" not in kept.stderr, kept.stderr


def test_an_admin_server_beyond_loopback_with_a_super_digest_is_warned_about(tmp_path: Path) -> None:
    secret = tmp_path / "super-password"
    secret.write_text(PASSWORD)
    env = clean_env(tmp_path / "pod", ZK_HOSTNAME="zk-0", ZK_SUPER_PASSWORD_FILE=str(secret), ZK_ADMIN_SERVER="on")
    base = [script("zkboot"), "render", "--zookeeper-home=/nonexistent"]
    exposed = run([*base, "--admin-address=0.0.0.0"], env)
    assert exposed.returncode == 0, exposed.stderr
    assert "admin.serverAddress=0.0.0.0" in exposed.stdout.splitlines()
    (line,) = [line for line in exposed.stderr.splitlines() if "admin" in line]
    assert line.startswith("zkboot: warning: --admin-address=0.0.0.0: the admin server answers ")
    assert "super user's digest" in line
    for quiet in ("--admin-address=127.0.0.1", "--admin-address=::1"):
        result = run([*base, quiet], env)
        assert result.returncode == 0 and "admin" not in result.stderr, (quiet, result.stderr)

"""Client and quorum TLS from a mounted Secret (zkboot/start/tls.py and its settings).

Unit part: the Secret's checks (each a one-line error naming the file) and the PEM key store,
whose key ZooKeeper only reads as PKCS#8, made from cert-manager's PKCS#1 RSA keys and OpenSSL's
EC keys too; the settings' relations; zoo.cfg; ``render`` masking the key store; the key store
written 0600.  Integration part (marker ``integration``, Debian's real ZooKeeper, kazoo as the
client): a server started with a secure client port refuses a client without a certificate and
one with another CA's, serves the right one, keeps its plain port on 127.0.0.1 for the probes,
and no key material shows in argv, the environment or zkboot's output.  Certificates are made
with the ``openssl`` command (podsim/pki.py, and openssl directly for the other key formats).
"""

from __future__ import annotations

import json
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
    four_letter,
    free_port,
    intruder_writes,
    on_each_installation,
    script,
    stub_home,
    wait_until,
)  # fmt: skip
from zkboot.errors import EnvironmentProblem, UsageError
from zkboot.settings.resolve import resolve
from zkboot.start import tls

OPENSSL_TIMEOUT = 30.0
SAN = ["localhost"]


def openssl(*args: str) -> str:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT, check=False)
    assert result.returncode == 0, f"openssl {' '.join(args)}: {result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class Pki:
    root: Path
    ca: Path
    ca_key: Path

    def secret(self, name: str, key_format: str = "pkcs8") -> Path:
        """A TLS Secret's dir (tls.crt, tls.key, ca.crt) for a leaf of this CA; ``key_format``
        pkcs8, pkcs1 (cert-manager's default RSA encoding) or ec (OpenSSL's SEC1)."""
        work = self.root / f"{name}-work"
        if key_format == "pkcs8":
            cert, key = make_leaf(work, name, self.ca, self.ca_key, SAN, ["127.0.0.1"])
        else:
            key = work / "key.pem"
            work.mkdir(parents=True)
            if key_format == "pkcs1":
                openssl("genrsa", "-traditional", "-out", str(key), "2048")
            else:
                openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
            ext = work / "ext"
            ext.write_text("extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
            openssl("req", "-new", "-key", str(key), "-subj", f"/CN={name}", "-out", str(work / "csr"))
            cert = work / "cert.pem"
            openssl("x509", "-req", "-in", str(work / "csr"), "-CA", str(self.ca), "-CAkey", str(self.ca_key),
                    "-set_serial", str(free_port()), "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
        secret = self.root / name
        secret.mkdir()
        shutil.copy(cert, secret / "tls.crt")
        shutil.copy(key, secret / "tls.key")
        shutil.copy(self.ca, secret / "ca.crt")
        return secret


def new_pki(root: Path, name: str) -> Pki:
    ca, key = make_ca(root / f"{name}-ca", name)
    return Pki(root, ca, key)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (apt-get install -y openssl)")
    return new_pki(tmp_path, "ensemble")


def public_key(path: Path, certificate: bool) -> str:
    if certificate:
        return openssl("x509", "-in", str(path), "-noout", "-pubkey")
    return openssl("pkey", "-in", str(path), "-pubout")


# --- the Secret's checks and the key store --------------------------------------------------------


@pytest.mark.parametrize("key_format", ["pkcs8", "pkcs1", "ec"])
def test_key_store_holds_the_key_as_pkcs8_then_the_certificate(pki: Pki, tmp_path: Path, key_format: str) -> None:
    secret = pki.secret("member", key_format)
    store = tls.keystore("--tls-dir", tls.TlsDir(str(secret)))
    assert store.startswith("-----BEGIN PRIVATE KEY-----\n"), store.splitlines()[0]
    assert store.count("-----BEGIN PRIVATE KEY-----") == 1 and store.count("-----BEGIN CERTIFICATE-----") == 1
    written = tmp_path / "store.pem"
    written.write_text(store)
    # The re-wrapped key is the certificate's own: same public key.
    assert public_key(written, certificate=False) == public_key(secret / "tls.crt", certificate=True)


def test_each_bad_secret_is_one_line_naming_the_file(pki: Pki, tmp_path: Path) -> None:
    label = "--tls-dir / ZK_TLS_DIR=x"

    def problem(secret: Path, now: float | None = None) -> str:
        with pytest.raises(EnvironmentProblem) as raised:
            tls.keystore(label, tls.TlsDir(str(secret)), now)
        (line,) = raised.value.problems
        assert "\n" not in line and line.startswith(label + ": ")
        return line

    good = pki.secret("good")
    other = new_pki(tmp_path / "other", "stranger").secret("foreign")

    mismatched = pki.secret("mismatched")
    shutil.copy(good / "tls.key", mismatched / "tls.key")
    assert f"{mismatched}/tls.key does not match {mismatched}/tls.crt" in problem(mismatched)

    wrong_ca = pki.secret("wrong-ca")
    shutil.copy(other / "tls.crt", wrong_ca / "tls.crt")
    shutil.copy(other / "tls.key", wrong_ca / "tls.key")
    assert f"{wrong_ca}/tls.crt is not signed by {wrong_ca}/ca.crt" in problem(wrong_ca)

    assert "expired at" in problem(good, now=time.time() + 3 * 86400)  # valid for 2 days
    assert "is not valid before" in problem(good, now=time.time() - 86400)

    missing = pki.secret("missing")
    (missing / "ca.crt").unlink()
    assert f"{missing}/ca.crt: cannot read (No such file or directory)" in problem(missing)

    encrypted = pki.secret("encrypted")
    key = encrypted / "tls.key"
    openssl("pkey", "-in", str(good / "tls.key"), "-aes256", "-passout", "pass:secret", "-out", str(key))
    assert "is encrypted; expected an unencrypted key" in problem(encrypted)

    empty = pki.secret("empty")
    (empty / "tls.crt").write_text("not a certificate\n")
    assert f"{empty}/tls.crt holds no certificate" in problem(empty)


# --- settings, zoo.cfg, render ----------------------------------------------------------------------


def problems_of(environ: dict[str, str], flags: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(UsageError) as raised:
        resolve(flags or {}, environ)
    return list(raised.value.problems)


def test_settings_that_cannot_work_together_are_refused() -> None:
    assert problems_of({"ZK_SECURE_CLIENT_PORT": "2281"}) == [
        "ZK_SECURE_CLIENT_PORT=2281 needs --tls-dir / ZK_TLS_DIR: "
        "expected the dir of the server's tls.crt, tls.key and ca.crt"
    ]
    assert problems_of({"ZK_QUORUM_TLS": "on"}) == [
        "ZK_QUORUM_TLS=on needs --quorum-tls-dir / ZK_QUORUM_TLS_DIR or --tls-dir / ZK_TLS_DIR: "
        "expected the dir of the member's tls.crt, tls.key and ca.crt"
    ]
    (same,) = problems_of({"ZK_SECURE_CLIENT_PORT": "2181", "ZK_TLS_DIR": "/tls"})
    assert same.startswith("ZK_SECURE_CLIENT_PORT=2181: the same port as --client-port"), same
    (alone,) = problems_of({"ZK_PLAIN_CLIENT_PORT": "loopback", "ZK_REPLICAS": "3"})
    assert "the members could not reach each other's client port" in alone
    # zoo.cfg keys zkboot writes while TLS is on are refused through --set, and allowed otherwise.
    tls_on = {"ZK_SECURE_CLIENT_PORT": "2281", "ZK_TLS_DIR": "/tls", "ZK_CFG_EXTRA": "ssl.clientAuth=none"}
    (managed,) = problems_of(tls_on)
    assert managed.endswith("ssl.clientAuth is written by zkboot; set it with --tls-client-auth / ZK_TLS_CLIENT_AUTH")
    assert resolve({}, {"ZK_CFG_EXTRA": "ssl.clientAuth=none"}).extra == (("ssl.clientAuth", "none"),)
    quorum_on = {"ZK_QUORUM_TLS": "on", "ZK_TLS_DIR": "/tls", "ZK_CFG_EXTRA": "ssl.quorum.protocol=TLSv1.3"}
    (quorum_key,) = problems_of(quorum_on)
    assert "ssl.quorum.protocol is written by zkboot" in quorum_key


def render_json(tmp_path: Path, environ: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [script("zkboot"), "render", "--hostname=zk-1", "--domain=zk-hs.default.svc.cluster.local", "--format=json"],
        env=clean_env(tmp_path, **environ), capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def cfg(document: dict[str, Any]) -> dict[str, str]:
    text = next(f["content"] for f in document["files"] if f["path"].endswith("/zoo.cfg"))
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_zoo_cfg_and_render_with_client_and_quorum_tls(pki: Pki, tmp_path: Path) -> None:
    secret = pki.secret("member", "pkcs1")
    environ = {"ZK_REPLICAS": "3", "ZK_SECURE_CLIENT_PORT": "2281", "ZK_TLS_DIR": str(secret), "ZK_QUORUM_TLS": "on"}
    document = render_json(tmp_path, environ)
    conf = tmp_path / "conf"
    pairs = cfg(document)
    assert {key: pairs.get(key) for key in (
        "clientPort", "clientPortAddress", "secureClientPort", "serverCnxnFactory", "ssl.keyStore.location",
        "ssl.keyStore.type", "ssl.trustStore.location", "ssl.trustStore.type", "ssl.clientAuth", "sslQuorum",
        "portUnification", "ssl.quorum.keyStore.location", "ssl.quorum.trustStore.location",
        "ssl.quorum.hostnameVerification",
    )} == {
        "clientPort": "2181", "clientPortAddress": "127.0.0.1", "secureClientPort": "2281",
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "ssl.keyStore.location": f"{conf}/client-keystore.pem", "ssl.keyStore.type": "PEM",
        "ssl.trustStore.location": f"{secret}/ca.crt", "ssl.trustStore.type": "PEM", "ssl.clientAuth": "need",
        "sslQuorum": "true", "portUnification": "false",
        "ssl.quorum.keyStore.location": f"{conf}/quorum-keystore.pem",
        "ssl.quorum.trustStore.location": f"{secret}/ca.crt", "ssl.quorum.hostnameVerification": "false",
    }  # fmt: skip
    stores = {f["path"]: f["content"] for f in document["files"] if f["path"].endswith("-keystore.pem")}
    assert stores == {f"{conf}/client-keystore.pem": "<masked>", f"{conf}/quorum-keystore.pem": "<masked>"}
    assert "PRIVATE KEY" not in json.dumps(document)


@on_each_installation
def test_renewal_keys_follow_the_reload_interval(pki: Pki, tmp_path: Path, zookeeper: ZooKeeper) -> None:
    """ZooKeeper reloads a replaced key store only when zoo.cfg says so: the quorum's on every
    version, the client port's with client.certReload (3.8.5+; before, the start warns that the
    client port keeps its certificate); with the watch off (0) neither key is written, and a --set
    of either is refused while zkboot writes it."""
    if zookeeper.missing():
        pytest.skip(str(zookeeper.missing()))
    secret = pki.secret("member")
    environ = {
        "ZK_REPLICAS": "3", "ZK_SECURE_CLIENT_PORT": "2281", "ZK_TLS_DIR": str(secret), "ZK_QUORUM_TLS": "on",
        "ZK_HOME": str(zookeeper.home),
    }  # fmt: skip
    reloads = zookeeper is UPSTREAM  # 3.9.5; Debian's is 3.8.0
    document = render_json(tmp_path / "on", environ)
    watched = cfg(document)
    assert watched.get("sslQuorumReloadCertFiles") == "true"
    assert watched.get("client.certReload") == ("true" if reloads else None)
    warned = [w for w in document["warnings"] if w.startswith("--tls-reload-interval / ZK_TLS_RELOAD_INTERVAL=60")]
    assert len(warned) == (0 if reloads else 1), document["warnings"]
    off = cfg(render_json(tmp_path / "off", {**environ, "ZK_TLS_RELOAD_INTERVAL": "0"}))
    assert not {"sslQuorumReloadCertFiles", "client.certReload"} & set(off)
    for key in ("sslQuorumReloadCertFiles", "client.certReload"):
        result = subprocess.run(
            [script("zkboot"), "render", "--set", f"{key}=false"],
            env=clean_env(tmp_path / "set", **environ), capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert (
            f"{key} is written by zkboot; set it with --tls-reload-interval / ZK_TLS_RELOAD_INTERVAL" in result.stderr
        )


def test_the_renewal_watch_loads_nothing_heavy() -> None:
    """The watch lives as long as the server, in every TLS pod: the start pipeline's imports (kazoo,
    jinja2) stay out of it."""
    heavy = ("kazoo", "jinja2", "typer", "psutil")
    listing = f"import sys, zkboot.start.renewal; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", listing], capture_output=True, text=True, timeout=30, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


def test_dynamic_membership_lists_the_plain_port_on_loopback(pki: Pki, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    environ = {
        "ZK_REPLICAS": "3", "ZK_MEMBERSHIP": "dynamic", "ZK_SUPER_PASSWORD_FILE": str(password),
        "ZK_SECURE_CLIENT_PORT": "2281", "ZK_TLS_DIR": str(pki.secret("member")),
    }  # fmt: skip
    document = render_json(tmp_path, environ)
    dynamic = next(f["content"] for f in document["files"] if f["kind"] == "membership")
    lines = dynamic.splitlines()
    assert len(lines) == 3 and all(line.endswith(":participant;127.0.0.1:2181") for line in lines), lines
    assert "clientPortAddress" not in cfg(document)  # the dynamic file says where the port listens


def one_server(secret: Path) -> dict[str, str]:
    return {"ZK_HOSTNAME": "zk-0", "ZK_REPLICAS": "1", "ZK_SECURE_CLIENT_PORT": "2281", "ZK_TLS_DIR": str(secret)}


def test_a_start_writes_the_key_store_for_its_owner_only(pki: Pki, tmp_path: Path) -> None:
    secret = pki.secret("member", "ec")
    result = subprocess.run(
        [script("zkGenConfig.sh")],
        env=clean_env(tmp_path, **one_server(secret)),
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    store = tmp_path / "conf" / "client-keystore.pem"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert store.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    assert "renewal" not in result.stderr  # zkGenConfig.sh starts no server, so no renewal watch


def test_a_start_with_a_bad_secret_writes_nothing(pki: Pki, tmp_path: Path) -> None:
    secret = pki.secret("member")
    shutil.copy(pki.ca, secret / "tls.crt")  # the CA's certificate where the member's should be
    result = subprocess.run(
        [script("zkGenConfig.sh")],
        env=clean_env(tmp_path, **one_server(secret)),
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    expected = f"zkGenConfig.sh: error: ZK_TLS_DIR={secret}: {secret}/tls.key does not match {secret}/tls.crt"
    assert line.startswith(expected), line
    assert not (tmp_path / "conf").exists() and not (tmp_path / "data").exists()


# --- a real server: who gets in ---------------------------------------------------------------------


def tries_to_write(port: int, secret: Path | None, ca: Path) -> bool:
    """Whether a client holding ``secret``'s certificate (None: none) and trusting ``ca`` wrote."""
    files = {} if secret is None else {"certfile": str(secret / "tls.crt"), "keyfile": str(secret / "tls.key")}
    return intruder_writes(f"127.0.0.1:{port}", use_ssl=True, ca=str(ca), verify_certs=True, **files)


@pytest.mark.integration
@on_each_installation
def test_only_a_client_with_the_ensembles_certificate_gets_in(
    zk_launcher: Callable[..., Any], pki: Pki, tmp_path: Path, zookeeper: ZooKeeper
) -> None:
    server, client = pki.secret("server", "pkcs1"), pki.secret("client")
    stranger = new_pki(tmp_path / "other", "stranger").secret("foreign")
    paths = ZkPaths(tmp_path / "zk")
    paths.root.mkdir()
    secure = free_port()
    started = zk_launcher(
        [script("start-zookeeper"), *paths.flags()], paths,
        {"ZK_SECURE_CLIENT_PORT": str(secure), "ZK_TLS_DIR": str(server)},
    )  # fmt: skip
    wait_until(lambda: "Mode: standalone" in four_letter(paths.client_port, "srvr"), 60, what="the server to serve")
    wait_until(lambda: socket_open(secure), 30, what=f"the secure port {secure}")

    # Both refused clients at once: each may take its whole timeout to be turned away.
    with ThreadPoolExecutor(2) as pool:
        without = pool.submit(tries_to_write, secure, None, pki.ca)
        foreign = pool.submit(tries_to_write, secure, stranger, stranger / "ca.crt")
        assert not without.result(), "a client without a certificate got a session"
        assert not foreign.result(), "another CA's certificate got a session"
    good = KazooClient(
        hosts=f"127.0.0.1:{secure}", use_ssl=True, ca=str(pki.ca), verify_certs=True, timeout=5,
        certfile=str(client / "tls.crt"), keyfile=str(client / "tls.key"),
    )  # fmt: skip
    good.start(timeout=20)
    try:
        assert not good.exists("/intruder"), "a refused client wrote after all"
        good.create("/member", b"through TLS")
        assert good.get("/member")[0] == b"through TLS"
    finally:
        good.stop()
        good.close()

    # The plain port answers on 127.0.0.1 (the pod's probes) and nowhere else.
    assert "Mode: standalone" in four_letter(paths.client_port, "srvr")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", paths.client_port), timeout=2).close()
    probes = (["zkboot", "probe", "ready", f"--port={paths.client_port}"], ["zookeeper-ready", str(paths.client_port)])
    for program, *args in probes:
        result = subprocess.run([script(program), *args], env=clean_env(), capture_output=True, timeout=15, check=False)
        assert result.returncode == 0, (program, result.stderr)

    # No key material in the JVM's argv or environment, nor in anything zkboot printed.
    key_lines = {line for line in (server / "tls.key").read_text().splitlines() if "-----" not in line}
    pid = started.process.pid
    exposed = Path(f"/proc/{pid}/cmdline").read_bytes() + Path(f"/proc/{pid}/environ").read_bytes()
    printed = started.text()
    for line in list(key_lines)[:3]:
        assert line.encode() not in exposed and line not in printed
    store = (paths.conf / "client-keystore.pem").read_text()
    for line in store.splitlines()[1:4]:
        assert line not in printed and line.encode() not in exposed


def socket_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_a_zookeeper_without_pem_stores_is_refused(pki: Pki, tmp_path: Path) -> None:
    home = stub_home(tmp_path / "zk354", "exit 0\n", ["zookeeper-3.5.4-beta.jar", "zookeeper-3.5.4.jar"])
    environ = {**one_server(pki.secret("member")), "ZK_HOME": str(home)}
    result = subprocess.run(
        [script("zkGenConfig.sh")], env=clean_env(tmp_path, **environ), capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"zkGenConfig.sh: error: ZK_SECURE_CLIENT_PORT: ZooKeeper 3.5.4 at {home}/bin/zkServer.sh cannot read PEM "
        "key and trust stores; expected 3.5.5 or later (or no TLS settings)"
    )
    assert not (tmp_path / "conf").exists()

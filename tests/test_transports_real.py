"""The probes' http and tls transports against a real ZooKeeper (Debian's package) started by zkboot.

- http: ZooKeeper's admin server (Jetty), which on Debian only starts because zkboot puts
  /usr/share/java/servlet-api.jar on the classpath;
- tls: four-letter words on a ``secureClientPort`` served by Netty, with a CA, server certificate
  and key made here by the ``openssl`` command and read by ZooKeeper as PEM key and trust stores.

Debian's zookeeper.jar names the Netty jars it needs in its manifest's Class-Path, but not
netty-codec; without it the Netty connection factory fails every connection
(NoClassDefFoundError io/netty/handler/codec/ByteToMessageDecoder).  zkboot adds it, as it adds
the servlet API: the tests below run on zkboot's own classpath.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    DEBIAN,
    DEBIAN_ZKSERVER,
    ZkPaths,
    ZooKeeper,
    clean_env,
    four_letter,
    free_port,
    on_each_installation,
    script,
    stop,
    wait_until,
)
from zkboot import installation as install

pytestmark = pytest.mark.integration
START_TIMEOUT = 60.0
SERVLET_JAR = Path("/usr/share/java/servlet-api.jar")
NETTY_CODEC_JAR = "/usr/share/java/netty-codec.jar"
NETTY_FACTORY = "org.apache.zookeeper.server.NettyServerCnxnFactory"
MISSING_CODEC = "NoClassDefFoundError: io/netty/handler/codec/ByteToMessageDecoder"


def run(*args: str, env: dict[str, str] | None = None, program: str = "zkboot") -> subprocess.CompletedProcess[str]:
    """A probe or metrics command, with a clean environment (plus ``env``) and a hard limit."""
    return subprocess.run(
        [script(program), *args],
        env=clean_env(None, **(env or {})),
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )


def other_port(*taken: int) -> int:
    port = free_port()
    while port in taken:
        port = free_port()
    return port


def wait_serving(started: Any) -> None:
    """Until srvr on the plain client port reports a mode."""

    def serving() -> bool:
        assert started.process.poll() is None, f"server exited:\n{started.text()[-3000:]}"
        return "Mode: " in four_letter(started.port, "srvr", timeout=1.0)

    wait_until(serving, START_TIMEOUT, what=f"a serving server on port {started.port}")


def passes(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 0


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


# --- the classpath ---------------------------------------------------------------------------


def test_debian_classpath_has_the_jars_its_manifest_leaves_out() -> None:
    if not DEBIAN_ZKSERVER.exists():
        pytest.skip("Debian's zookeeper package is not installed (apt-get install -y zookeeper)")
    found = install.find(None, {"PATH": ""})
    assert found.layout == "fixed"
    for jar in (str(SERVLET_JAR), NETTY_CODEC_JAR):
        # The zookeeper package depends on both (through libjetty9-java and libnetty-java): a
        # missing one is a broken install, not a reason to pass without looking.
        assert Path(jar).is_file(), f"{jar} is missing: apt-get install --reinstall zookeeper"
        assert jar in found.classpath, jar


# --- http: the admin server ------------------------------------------------------------------


@on_each_installation
def test_http_transport_against_the_admin_server(zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper) -> None:
    paths = ZkPaths(tmp_path)
    admin = other_port(paths.client_port)
    started = zk_launcher(
        [script("start-zookeeper"), *paths.flags(), "--admin-server=on", f"--admin-port={admin}"], paths
    )
    wait_serving(started)
    http = ("--transport", "http", "--admin-port", str(admin))
    wait_until(lambda: passes(run("probe", "ready", *http)), 20, what=f"the admin server on port {admin}")

    # On Debian, zkboot's classpath is the one the JVM got, servlet API included; Jetty started.
    output = started.text()
    if zookeeper == DEBIAN:
        assert f"java.class.path={paths.conf}:" in output
        assert str(SERVLET_JAR) in next(line for line in output.splitlines() if "java.class.path=" in line)
    assert f"Started AdminServer on address 127.0.0.1, port {admin}" in output  # --admin-address's default
    assert "Unable to load jetty" not in output

    for check in ("live", "ready"):
        result = run("probe", check, *http)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), check
    # The same through the environment, as a pod manifest would set it.
    result = run("probe", "live", env={"ZK_PROBE_TRANSPORT": "http", "ZK_ADMIN_PORT": str(admin)})
    assert (result.returncode, result.stderr) == (0, "")

    metrics = run("metrics", *http, "--format", "json")
    assert metrics.returncode == 0, metrics.stderr
    document = json.loads(metrics.stdout)
    assert document["zk_server_state"] == "standalone"
    assert str(document["zk_version"]).startswith(zookeeper.version)
    assert isinstance(document["zk_znode_count"], int) and document["zk_znode_count"] > 0
    # The admin server's names are flattened to mntr's: the plain four-letter mntr has them too.
    mntr_keys = {line.split("\t")[0] for line in four_letter(started.port, "mntr").splitlines()}
    assert {"zk_server_state", "zk_version", "zk_znode_count"} <= mntr_keys

    stop(started.process)
    assert_one_line_failure(run("probe", "live", *http), "zkboot probe live: not live (refused)", f":{admin} ")
    assert_one_line_failure(run("probe", "ready", *http), "not ready (refused)")


def test_without_the_servlet_api_debian_has_no_admin_server(zk_launcher: Any, tmp_path: Path) -> None:
    """The control: zkboot's classpath less servlet-api.jar (through JVMFLAGS' later -cp) starts no Jetty."""
    paths = ZkPaths(tmp_path)
    classpath = [jar for jar in install.find(None, {"PATH": ""}).classpath if jar != str(SERVLET_JAR)]
    admin = other_port(paths.client_port)
    started = zk_launcher(
        [script("start-zookeeper"), *paths.flags(), "--admin-server=on", f"--admin-port={admin}"],
        paths,
        {"JVMFLAGS": "-cp " + ":".join((str(paths.conf), *classpath))},
    )
    wait_serving(started)
    assert "Unable to load jetty, not starting JettyAdminServer" in started.text()
    failed = run("probe", "live", "--transport", "http", "--admin-port", str(admin))
    assert_one_line_failure(failed, "not live (refused)")


# --- tls: four-letter words on a secureClientPort --------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate that signed the server's
    keystore: Path  # the server's key, then its certificate (ZooKeeper's PEM key store)
    other_ca: Path  # a CA that signed nothing here


def openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"openssl {' '.join(args)}:\n{result.stderr}"


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN=zkboot test {name}", "-keyout", str(key), "-out", str(cert),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (apt-get install -y openssl)")
    directory = tmp_path / "pki"
    directory.mkdir()
    ca, ca_key = make_ca(directory, "ca")
    other_ca, _ = make_ca(directory, "other-ca")
    extensions = directory / "server.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    key, request, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", str(key), "-out", str(request),
        cwd=directory,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key), "-set_serial", "2",
        "-days", "2", "-extfile", str(extensions), "-out", str(cert),
        cwd=directory,
    )  # fmt: skip
    keystore = directory / "keystore.pem"
    keystore.write_text(key.read_text() + cert.read_text())  # PKCS#8 "PRIVATE KEY", then the certificate
    return Pki(ca, keystore, other_ca)


def tls_flags(secure_port: int, pki: Pki) -> list[str]:
    """``--set`` entries for a Netty server with a TLS port that needs no client certificate."""
    entries = {
        "serverCnxnFactory": NETTY_FACTORY,
        "secureClientPort": str(secure_port),
        "ssl.keyStore.location": str(pki.keystore),
        "ssl.keyStore.type": "PEM",
        "ssl.trustStore.location": str(pki.ca),
        "ssl.trustStore.type": "PEM",
        "ssl.clientAuth": "none",
    }
    return [f"--set={key}={value}" for key, value in entries.items()]


@on_each_installation
def test_tls_transport_against_a_secure_client_port(
    zk_launcher: Any, tmp_path: Path, pki: Pki, zookeeper: ZooKeeper
) -> None:
    paths = ZkPaths(tmp_path)
    secure = other_port(paths.client_port)
    started = zk_launcher([script("start-zookeeper"), *paths.flags(), *tls_flags(secure, pki)], paths)
    wait_serving(started)
    assert NETTY_FACTORY in started.text() and "secure: true" in started.text()
    tls = ("--transport", "tls", "--port", str(secure), "--tls-ca", str(pki.ca))
    # The JVM's first TLS handshake is its slowest; poll for it, then every call must pass.
    wait_until(lambda: passes(run("probe", "live", *tls)), 20, what=f"ruok over TLS on port {secure}")

    for check in ("live", "ready"):
        result = run("probe", check, *tls)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), (check, result.stderr)
    # The old command names, configured the way a pod manifest would.
    tls_env = {"ZK_PROBE_TRANSPORT": "tls", "ZK_PROBE_TLS_CA": str(pki.ca)}
    result = run(str(secure), env=tls_env, program="zookeeper-ready")
    assert (result.returncode, result.stderr) == (0, "")
    result = run(env={**tls_env, "ZK_CLIENT_PORT": str(secure)}, program="zkOk.sh")
    assert (result.returncode, result.stderr) == (0, "")

    metrics = run("metrics", *tls, "--format", "json")
    assert metrics.returncode == 0, metrics.stderr
    document = json.loads(metrics.stdout)
    assert document["zk_server_state"] == "standalone"
    assert str(document["zk_version"]).startswith(zookeeper.version)
    prometheus = run("metrics", *tls, "--format", "prometheus")
    assert prometheus.returncode == 0, prometheus.stderr
    assert (
        f'zk_info{{version="{zookeeper.version}' in prometheus.stdout
        and 'server_state="standalone"' in prometheus.stdout
    )

    # A CA that did not sign the server's certificate: one line, exit 1.
    wrong = ("--transport", "tls", "--port", str(secure), "--tls-ca", str(pki.other_ca))
    assert_one_line_failure(run("probe", "live", *wrong), "not live (unreachable)", "certificate verify failed")
    assert_one_line_failure(run("probe", "ready", *wrong), "not ready (unreachable)", "certificate verify failed")
    failed = run("metrics", *wrong)
    assert_one_line_failure(failed, "zkboot metrics: no metrics (unreachable)", "certificate verify failed")
    # The secure port really is TLS only: plain four-letter words get nothing there.
    plain = run("probe", "live", "--port", str(secure))
    assert plain.returncode == 1, plain.stderr
    assert four_letter(secure, "ruok", timeout=1.0) == ""


def test_netty_factory_works_with_zkboots_own_classpath(zk_launcher: Any, tmp_path: Path) -> None:
    """Netty on the plain client port, no JVMFLAGS: what --set serverCnxnFactory=... gives a user."""
    paths = ZkPaths(tmp_path)
    started = zk_launcher(
        [script("start-zookeeper"), *paths.flags(), f"--set=serverCnxnFactory={NETTY_FACTORY}"], paths
    )

    def decided() -> bool:
        assert started.process.poll() is None, f"server exited:\n{started.text()[-3000:]}"
        return MISSING_CODEC in started.text() or "Mode: " in four_letter(started.port, "srvr", timeout=1.0)

    wait_until(decided, START_TIMEOUT, what="a serving server or Netty's NoClassDefFoundError")
    assert MISSING_CODEC not in started.text()
    assert passes(run("probe", "ready", "--port", str(started.port)))


# --- a server zkboot did not configure: its four-letter-word whitelist --------------------------


@on_each_installation
def test_probes_on_a_server_whose_whitelist_zkboot_did_not_write(
    zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper
) -> None:
    """A server whose zoo.cfg is someone else's, whitelisting ruok alone: live; ready, since
    ZooKeeper keeps srvr on every whitelist; no metrics, and the one line says why (mntr is off).
    The whitelist reply is read the same from 3.8 and 3.9."""
    paths = ZkPaths(tmp_path)
    paths.conf.mkdir(parents=True)
    cfg = paths.conf / "zoo.cfg"
    cfg.write_text(
        f"tickTime=2000\ndataDir={paths.data}\nclientPort={paths.client_port}\n"
        "admin.enableServer=false\n4lw.commands.whitelist=ruok\n"
    )
    # ZOO_LOG_DIR: zkServer.sh makes it, by default inside the installation.
    environ = {"ZOOCFGDIR": str(paths.conf), "ZOO_LOG_DIR": str(paths.root / "log")}
    started = zk_launcher([str(zookeeper.zkserver), "start-foreground", str(cfg)], paths, environ)
    port = ("--port", str(started.port))
    wait_until(lambda: passes(run("probe", "ready", *port)), START_TIMEOUT, what="srvr to say the server serves")
    result = run("probe", "live", *port)
    assert (result.returncode, result.stderr) == (0, "")
    assert_one_line_failure(run("metrics", *port), "no metrics (not in the 4lw whitelist)", "mntr")

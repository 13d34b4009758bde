"""SASL (DIGEST-MD5) from mounted Secrets, for the quorum and for clients (zkboot/start/sasl.py).

The account's checks (one line naming the file), the JAAS file (escaped, written 0600, shown
masked), zoo.cfg's quorum.auth entries and the JVM flag naming only the file's path, ``--set``
refusing the keys zkboot writes, and the version rules: ZooKeeper 3.9.4+ (whose quorum learners
refuse DIGEST-MD5 in FIPS mode, on by default) needs ``--fips-mode off`` for quorum SASL.  Against
a real server of each installation (marker ``integration``; 3.9 in FIPS mode, its default):
with client SASL, a client without credentials and one with a wrong password get no session and
write nothing, the right account reads and writes.  Quorum SASL on a real ensemble (3.9.5 forms a
quorum only with ``--fips-mode off``) is tests/test_ensemble.py's.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient  # type: ignore[import-untyped]

from tests.helpers import (
    ZkPaths,
    ZooKeeper,
    clean_env,
    four_letter,
    intruder_writes,
    on_each_installation,
    script,
    stub_home,
    wait_until,
)
from zkboot import secrets
from zkboot.errors import EnvironmentProblem, UsageError
from zkboot.settings.resolve import resolve
from zkboot.start import sasl

PASSWORD = 'pa"ss\\word'  # a quote and a backslash: JAAS needs both escaped


def account_dir(root: Path, username: str = "zk-quorum", password: str = PASSWORD) -> Path:
    directory = root / "quorum-sasl"
    directory.mkdir()
    (directory / "username").write_text(username + "\n")
    (directory / "password").write_text(password + "\n")
    return directory


def test_account_problems_are_one_line_naming_the_file(tmp_path: Path) -> None:
    def problem(directory: Path) -> str:
        with pytest.raises(EnvironmentProblem) as raised:
            secrets.read_account("ZK_QUORUM_SASL_DIR=x", str(directory))
        (line,) = raised.value.problems
        return line

    missing = tmp_path / "missing"
    missing.mkdir()
    assert problem(missing) == (
        f"ZK_QUORUM_SASL_DIR=x: {missing}/username: cannot read (No such file or directory); "
        "expected the quorum's username"
    )
    spaced = tmp_path / "a"
    spaced.mkdir()
    assert "holds 'zk quorum'; expected a user name of letters, digits" in problem(account_dir(spaced, "zk quorum"))
    empty = tmp_path / "b"
    empty.mkdir()
    assert "password is empty or spans lines" in problem(account_dir(empty, password=""))


def test_jaas_escapes_the_password_and_masks_it_when_shown() -> None:
    account = secrets.Account("zk-quorum", PASSWORD)
    text = sasl.jaas(account)
    assert 'user_zk-quorum="pa\\"ss\\\\word";' in text
    assert 'username="zk-quorum"' in text and 'password="pa\\"ss\\\\word";' in text
    assert text.count(sasl.LOGIN_MODULE) == 2
    shown = sasl.jaas(account, masked=True)
    assert "ss\\\\word" not in shown and 'pa\\"' not in shown and shown.count("<masked>") == 2


def render_json(tmp_path: Path, **environ: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    result = subprocess.run(
        [script("zkboot"), "render", "--hostname=zk-1", "--domain=zk-hs.default.svc.cluster.local", "--format=json"],
        env=clean_env(tmp_path, ZK_REPLICAS="3", **environ), capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return result, json.loads(result.stdout) if result.returncode == 0 else None


def test_render_writes_the_entries_and_shows_the_jaas_file_masked(tmp_path: Path) -> None:
    result, document = render_json(tmp_path, ZK_QUORUM_SASL_DIR=str(account_dir(tmp_path)))
    assert document is not None, result.stderr
    conf = tmp_path / "conf"
    files = {f["path"]: f["content"] for f in document["files"]}
    cfg = dict(line.split("=", 1) for line in files[f"{conf}/zoo.cfg"].splitlines() if "=" in line)
    assert {k: v for k, v in cfg.items() if k.startswith("quorum.auth.")} == {
        "quorum.auth.enableSasl": "true",
        "quorum.auth.learnerRequireSasl": "true",
        "quorum.auth.serverRequireSasl": "true",
        "quorum.auth.learner.saslLoginContext": "QuorumLearner",
        "quorum.auth.server.saslLoginContext": "QuorumServer",
    }
    assert f"-Djava.security.auth.login.config={conf}/jaas.conf" in document["jvmflags"]
    assert files[f"{conf}/jaas.conf"] == sasl.jaas(secrets.Account("zk-quorum", ""), masked=True)
    assert 'pa\\"ss' not in result.stdout and "ss\\\\word" not in result.stdout


def test_rolling_to_sasl_leaves_it_optional_first(tmp_path: Path) -> None:
    result, document = render_json(
        tmp_path, ZK_QUORUM_SASL_DIR=str(account_dir(tmp_path)), ZK_QUORUM_SASL_REQUIRE="off"
    )
    assert document is not None, result.stderr
    text = next(f["content"] for f in document["files"] if f["path"].endswith("/zoo.cfg"))
    assert "quorum.auth.enableSasl=true\n" in text
    assert "quorum.auth.learnerRequireSasl=false\n" in text and "quorum.auth.serverRequireSasl=false\n" in text


def test_a_start_writes_the_jaas_file_for_its_owner_only(tmp_path: Path) -> None:
    environ = {"ZK_HOSTNAME": "zk-0", "ZK_REPLICAS": "1", "ZK_QUORUM_SASL_DIR": str(account_dir(tmp_path))}
    result = subprocess.run(
        [script("zkGenConfig.sh")], env=clean_env(tmp_path, **environ), capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    jaas = tmp_path / "conf" / "jaas.conf"
    assert stat.S_IMODE(jaas.stat().st_mode) == 0o600
    assert jaas.read_text() == sasl.jaas(secrets.Account("zk-quorum", PASSWORD))
    assert "word" not in result.stdout + result.stderr


def test_set_cannot_write_the_quorum_auth_keys_while_sasl_is_on() -> None:
    with pytest.raises(UsageError) as raised:
        resolve({}, {"ZK_QUORUM_SASL_DIR": "/s", "ZK_CFG_EXTRA": "quorum.auth.serverRequireSasl=false"})
    (line,) = raised.value.problems
    assert line.endswith(
        "quorum.auth.serverRequireSasl is written by zkboot; set it with --quorum-sasl-require / ZK_QUORUM_SASL_REQUIRE"
    )
    assert resolve({}, {"ZK_CFG_EXTRA": "quorum.auth.enableSasl=true"}).extra == (("quorum.auth.enableSasl", "true"),)


def test_zookeeper_394_and_later_need_fips_mode_off_for_quorum_sasl(tmp_path: Path) -> None:
    """From 3.9.4 a quorum learner in FIPS mode (on by default) refuses DIGEST-MD5, so no member
    would ever join: refused unless --fips-mode off.  3.9.0 to 3.9.3 authenticate in FIPS mode."""
    sasl_dir = str(account_dir(tmp_path))
    home = stub_home(tmp_path / "zk395", "exit 0\n", ["zookeeper-3.9.5.jar", "logback-classic-1.3.15.jar"])
    # The default (auto), then on: the error names the setting as it was given.
    for fips_mode, label in (({}, "--fips-mode / ZK_FIPS_MODE"), ({"ZK_FIPS_MODE": "on"}, "ZK_FIPS_MODE")):
        result, _ = render_json(tmp_path, ZK_HOME=str(home), ZK_QUORUM_SASL_DIR=sasl_dir, **fips_mode)
        assert result.returncode == 1
        (line,) = result.stderr.strip().splitlines()
        assert line == (
            "zkboot: error: ZK_QUORUM_SASL_DIR: ZooKeeper 3.9.5's members refuse quorum DIGEST-MD5 in FIPS mode "
            f"(zookeeper.fips-mode, on by default since 3.9.0); expected {label}=off for quorum SASL, or quorum "
            "TLS alone"
        )
    result, document = render_json(tmp_path, ZK_HOME=str(home), ZK_QUORUM_SASL_DIR=sasl_dir, ZK_FIPS_MODE="off")
    assert document is not None, result.stderr
    assert "-Dzookeeper.fips-mode=false" in document["jvmflags"]

    older = stub_home(tmp_path / "zk393", "exit 0\n", ["zookeeper-3.9.3.jar", "logback-classic-1.2.13.jar"])
    result, document = render_json(tmp_path, ZK_HOME=str(older), ZK_QUORUM_SASL_DIR=sasl_dir)
    assert document is not None, result.stderr
    assert not any("fips-mode" in flag for flag in document["jvmflags"])


def test_client_sasl_entries_and_jaas_section(tmp_path: Path) -> None:
    clients = tmp_path / "clients"
    clients.mkdir()
    result, document = render_json(tmp_path, ZK_CLIENT_SASL_DIR=str(account_dir(clients, "app", "app-pw")))
    assert document is not None, result.stderr
    conf = tmp_path / "conf"
    files = {f["path"]: f["content"] for f in document["files"]}
    text = files[f"{conf}/zoo.cfg"]
    assert "authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n" in text
    assert "sessionRequireClientSASLAuth=true\n" in text and "quorum.auth" not in text
    assert files[f"{conf}/jaas.conf"] == sasl.jaas(None, secrets.Account("app", ""), masked=True)
    assert f"-Djava.security.auth.login.config={conf}/jaas.conf" in document["jvmflags"]
    assert "app-pw" not in result.stdout


def test_zookeeper_35_is_told_it_cannot_refuse_clients_without_sasl(tmp_path: Path) -> None:
    home = stub_home(tmp_path / "zk35", "exit 0\n", ["zookeeper-3.5.10.jar", "slf4j-log4j12-1.7.25.jar"])
    clients = tmp_path / "clients"
    clients.mkdir()
    result, document = render_json(tmp_path, ZK_HOME=str(home), ZK_CLIENT_SASL_DIR=str(account_dir(clients)))
    assert document is not None, result.stderr
    text = next(f["content"] for f in document["files"] if f["path"].endswith("/zoo.cfg"))
    assert "authProvider.sasl=" in text and "sessionRequireClientSASLAuth" not in text
    assert any("ZooKeeper 3.5.10 has no sessionRequireClientSASLAuth" in w for w in document["warnings"])


# kazoo's connection thread ends in SessionClosedRequireSaslError for the client refused on purpose.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.integration
@on_each_installation
def test_only_the_clients_account_gets_a_session(zk_launcher: Any, tmp_path: Path, zookeeper: ZooKeeper) -> None:
    clients = tmp_path / "clients"
    clients.mkdir()
    paths = ZkPaths(tmp_path / "zk")
    paths.root.mkdir()
    environ = {"ZK_CLIENT_SASL_DIR": str(account_dir(clients, "app", "app-pw"))}
    zk_launcher([script("start-zookeeper"), *paths.flags()], paths, environ)
    wait_until(lambda: "Mode: standalone" in four_letter(paths.client_port, "srvr"), 60, what="the server to serve")
    right = {"mechanism": "DIGEST-MD5", "username": "app", "password": "app-pw"}
    hosts = f"127.0.0.1:{paths.client_port}"
    assert not intruder_writes(hosts), "a client without SASL wrote"
    assert not intruder_writes(hosts, sasl_options={**right, "password": "wrong"}), "a wrong password wrote"
    good = KazooClient(hosts=f"127.0.0.1:{paths.client_port}", timeout=10, sasl_options=right)
    good.start(timeout=20)
    try:
        assert good.exists("/intruder") is None, "a refused client's write is there"
        good.create("/app", b"with SASL")
        assert good.get("/app")[0] == b"with SASL"
    finally:
        good.stop()
        good.close()
    # The probes need no account: four-letter words are no session.
    probe = subprocess.run([script("zkboot"), "probe", "ready", f"--port={paths.client_port}"], env=clean_env(),
                           capture_output=True, text=True, timeout=15, check=False)  # fmt: skip
    assert probe.returncode == 0, probe.stderr

"""Bad input through the real console scripts: one line on stderr, the right exit code, nothing written.

Every case runs against a prepared tree under tmp_path (a conf dir holding an old zoo.cfg and
java.env, a data dir holding a myid and a fake snapshot) and checks that the tree is byte-identical
afterwards, with no file or directory added or removed.  ZooKeeper itself is a fake zkServer.sh
(``ZK_HOME``) that leaves a marker and exits 97, so a case that wrongly got as far as exec fails
loudly instead of starting a server.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import DOMAIN, Unprivileged, clean_env, script, snapshot, stub_home

FAKE_ZKSERVER = """\
# A stand-in for zkServer.sh: reaching it means zkboot exec'ed on bad input.
echo "$@" > "$(dirname "$0")/../EXECUTED"
exit 97
"""
SNAPSHOT_BYTES = bytes(range(256)) * 4
PROPS = "a shell or Java's Properties would read another path"  # how a path setting's error ends


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # command name, then arguments; "{tmp}", "{conf}", "{data}" are filled in
    code: int  # 2: usage or validation; 1: the environment
    fragments: tuple[str, ...]  # each must appear in the one stderr line
    env: dict[str, str | None] = field(default_factory=dict)  # on top of the base; None removes
    myid: str = "1\n"  # the prepared data dir's myid
    unprivileged: bool = False  # run as an unprivileged user with a read-only conf dir


CASES = [
    # ports
    Case("port-0", ("start-zookeeper", "--client_port=0"), 2, ("--client_port='0'",)),
    Case("port-70000", ("zkboot", "start", "--client_port=70000"), 2, ("--client-port='70000'",)),
    Case("port-non-numeric-env", ("zkGenConfig.sh",), 2, ("ZK_CLIENT_PORT='abc'",),
         env={"ZK_REPLICAS": "1", "ZK_CLIENT_PORT": "abc"}),
    Case("same-client-and-server-port",
         ("start-zookeeper", "--servers=3", f"--domain={DOMAIN}", "--client_port=2888"), 2,
         ("--client_port", "2888", "--server_port / ZK_SERVER_PORT")),
    Case("admin-port-equals-client-port",
         ("zkboot", "start", "--admin-server", "on", "--admin-port", "2181"), 2,
         ("--admin-port=2181", "--client-port / ZK_CLIENT_PORT")),
    # counts and times
    Case("servers-0", ("start-zookeeper", "--servers=0"), 2, ("--servers='0'",)),
    Case("servers-256-env", ("zkGenConfig.sh",), 2, ("ZK_REPLICAS='256'",), env={"ZK_REPLICAS": "256"}),
    Case("tick-time-0", ("zkboot", "start", "--tick-time", "0"), 2, ("--tick-time='0'",)),
    Case("tick-time-0-env", ("start-zookeeper",), 2, ("ZK_TICK_TIME='0'",), env={"ZK_TICK_TIME": "0"}),
    Case("min-above-max-session-timeout",
         ("start-zookeeper", "--min_session_timeout=50000", "--max_session_timeout=40000"), 2,
         ("--min_session_timeout=50000", "--max_session_timeout=40000")),
    Case("log-level-unknown", ("zkGenConfig.sh",), 2, ("ZK_LOG_LEVEL='VERBOSE'",),
         env={"ZK_REPLICAS": "1", "ZK_LOG_LEVEL": "VERBOSE"}),
    # paths
    Case("relative-data-dir", ("start-zookeeper", "--data_dir=var/lib/zookeeper"), 2,
         ("--data_dir='var/lib/zookeeper'",)),
    Case("conf-dir-with-space", ("zkboot", "start", "--conf-dir", "{conf} x"), 2, ("--conf-dir=", "{conf} x")),
    # what a shell (java.env's double quotes, zkServer.sh's unquoted $JVMFLAGS) or Java's Properties
    # (zoo.cfg) would read otherwise: each character class, by flag and by variable
    Case("log-dir-command-substitution-env", ("start-zookeeper",), 2, ("ZK_LOG_DIR='{tmp}/l$(id)'", PROPS),
         env={"ZK_LOG_DIR": "{tmp}/l$(id)"}),
    Case("conf-dir-double-quote", ("zkboot", "start", "--conf-dir", '{conf}"x'), 2, ("--conf-dir=", '"x', PROPS)),
    Case("log-dir-backquote", ("start-zookeeper", "--log_dir={tmp}/l`id`"), 2, ("--log_dir='{tmp}/l`id`'", PROPS)),
    Case("data-dir-backslash", ("zkboot", "start", "--data-dir", "{tmp}/da\\ta"), 2, ("--data-dir=", "/da", PROPS)),
    Case("data-log-dir-trailing-backslash", ("zkGenConfig.sh",), 2, ("ZK_DATA_LOG_DIR=", PROPS),
         env={"ZK_REPLICAS": "1", "ZK_DATA_LOG_DIR": "{tmp}/log\\"}),
    Case("conf-dir-wildcard", ("zkboot", "start", "--conf-dir", "{tmp}/c*"), 2, ("--conf-dir='{tmp}/c*'", PROPS)),
    Case("data-dir-control-character-env", ("zkboot", "start"), 2, ("ZK_DATA_DIR=", "\\x1b", PROPS),
         env={"ZK_DATA_DIR": "{tmp}/data\x1b[1m"}),
    Case("log-dir-non-ascii", ("zkboot", "start", "--log-dir", "{tmp}/journal-\u00e9"), 2, ("--log-dir=", PROPS)),
    Case("tls-dir-dollar", ("zkboot", "start", "--secure-client-port", "2281", "--tls-dir", "{tmp}/$HOME"), 2,
         ("--tls-dir='{tmp}/$HOME'", PROPS)),
    # heap
    Case("heap-2X", ("start-zookeeper", "--heap=2X"), 2, ("--heap='2X'",)),
    Case("heap-1M-env", ("zkGenConfig.sh",), 2, ("ZK_HEAP_SIZE='1M'",), env={"ZK_REPLICAS": "1", "ZK_HEAP_SIZE": "1M"}),
    # the command line itself
    Case("unknown-option-legacy", ("start-zookeeper", "--sever=3"), 2, ("--sever", "--servers")),
    Case("unknown-option-zkboot", ("zkboot", "start", "--sever=3"), 2, ("--sever", "--servers")),
    Case("unknown-option-zkgenconfig", ("zkGenConfig.sh", "--replicas=3"), 2, ("--replicas",)),
    Case("positional-legacy", ("start-zookeeper", "3"), 2, ("'3'",)),
    Case("positional-zkboot", ("zkboot", "start", "zk-0"), 2, ("zk-0",)),
    Case("missing-value-legacy", ("start-zookeeper", "--servers"), 2, ("--servers",)),
    Case("render-format-yaml", ("zkboot", "render", "--format", "yaml"), 2, ("--format", "yaml")),
    # identity
    Case("hostname-without-ordinal", ("start-zookeeper", "--hostname=zookeeper"), 2,
         ("--hostname='zookeeper'", "ordinal")),
    Case("ordinal-not-below-servers",
         ("start-zookeeper", "--servers=3", f"--hostname=zk-3.{DOMAIN}"), 2, ("zk-3", "ordinal 3", "--servers=3")),
    Case("servers-3-without-domain", ("zkGenConfig.sh",), 2, ("ZK_HOSTNAME='zk-0'", "ZK_REPLICAS=3", "domain"),
         env={"ZK_REPLICAS": "3"}),
    Case("leading-zero-ordinal",
         ("start-zookeeper", "--servers=3", "--hostname=zk-01", f"--domain={DOMAIN}"), 2, ("'zk-01'", "'01'")),
    Case("myid-offset-0", ("zkGenConfig.sh",), 2, ("ZK_MYID_OFFSET=0",),
         env={"ZK_REPLICAS": "1", "ZK_MYID_OFFSET": "0"}),
    # extra zoo.cfg entries and new settings
    Case("set-managed-tickTime", ("zkboot", "start", "--set", "tickTime=1"), 2, ("tickTime", "--tick-time")),
    Case("set-server-n", ("zkboot", "render", "--set", "server.1=x"), 2, ("--set", "server.1")),
    Case("set-server-n-legacy", ("start-zookeeper", "--set=server.2=x"), 2, ("--set", "server.2")),
    Case("cfg-extra-novalue", ("zkGenConfig.sh",), 2, ("ZK_CFG_EXTRA", "'novalue'"),
         env={"ZK_REPLICAS": "1", "ZK_CFG_EXTRA": "novalue"}),
    # --set values as Java's Properties would read them otherwise
    Case("set-trailing-backslash", ("zkboot", "start", "--set", "snapCount=10\\"), 2,
         ("--set", "snapCount", "a backslash", "expected printable ASCII without a backslash")),
    Case("set-backslash-escape-env", ("zkGenConfig.sh",), 2, ("ZK_CFG_EXTRA", "ssl.ciphersuites", "a backslash"),
         env={"ZK_REPLICAS": "1", "ZK_CFG_EXTRA": "snapCount=1000;ssl.ciphersuites=A\\tB"}),
    Case("set-control-character", ("start-zookeeper", "--set=snapCount=1\x07"), 2,
         ("--set", "\\x07", "a control character")),
    Case("set-non-ascii", ("zkboot", "render", "--set", "metricsProvider.httpHost=h\u00f4te"), 2,
         ("--set", "metricsProvider.httpHost", "non-ASCII")),
    # keys that are not the user's to give, or not safe
    Case("set-admin-server-address", ("zkboot", "start", "--set", "admin.serverAddress=0.0.0.0"), 2,
         ("admin.serverAddress", "--admin-address / ZK_ADMIN_ADDRESS")),
    Case("skip-acl-with-dynamic-membership",
         ("zkboot", "start", "--membership", "dynamic", "--super-password-file", "{tmp}/super", "--set", "skipACL=yes"),
         2, ("--set", "skipACL=yes", "--membership=dynamic", "reconfigure")),
    Case("skip-acl-with-dynamic-membership-env", ("zkGenConfig.sh",), 2,
         ("ZK_CFG_EXTRA", "skipACL=true", "ZK_MEMBERSHIP=dynamic"),
         env={"ZK_REPLICAS": "1", "ZK_MEMBERSHIP": "dynamic", "ZK_SUPER_PASSWORD_FILE": "{tmp}/super",
              "ZK_CFG_EXTRA": "skipACL=true"}),
    Case("admin-address-name", ("zkboot", "start", "--admin-address", "localhost"), 2,
         ("--admin-address='localhost'", "an IP address")),
    Case("digest-algorithm-md5", ("start-zookeeper",), 2, ("ZK_DIGEST_ALGORITHM='MD5'", "SHA-256"),
         env={"ZK_DIGEST_ALGORITHM": "MD5"}),
    Case("bad-4lw-word", ("zkboot", "start", "--4lw-whitelist", "ruok,bogus"), 2, ("--4lw-whitelist='ruok,bogus'",)),
    Case("admin-server-maybe", ("zkboot", "start", "--admin-server", "maybe"), 2, ("--admin-server='maybe'",)),
    Case("json-log-format-error", ("zkGenConfig.sh",), 2, ('"event": "error"', "ZK_REPLICAS='0'"),
         env={"ZK_REPLICAS": "0", "ZK_LOG_FORMAT": "json"}),
    # TLS and SASL settings
    Case("secure-port-non-numeric", ("zkboot", "start", "--secure-client-port", "tls"), 2,
         ("--secure-client-port='tls'",)),
    Case("secure-port-without-tls-dir", ("start-zookeeper",), 2, ("ZK_SECURE_CLIENT_PORT=2281", "ZK_TLS_DIR"),
         env={"ZK_SECURE_CLIENT_PORT": "2281"}),
    Case("tls-dir-relative", ("zkboot", "start", "--tls-dir", "secrets/tls"), 2, ("--tls-dir='secrets/tls'",)),
    Case("tls-client-auth-maybe", ("zkGenConfig.sh",), 2, ("ZK_TLS_CLIENT_AUTH='maybe'",),
         env={"ZK_REPLICAS": "1", "ZK_TLS_CLIENT_AUTH": "maybe"}),
    Case("plain-client-port-nowhere", ("zkboot", "start", "--plain-client-port", "nowhere"), 2,
         ("--plain-client-port='nowhere'",)),
    Case("quorum-tls-perhaps", ("start-zookeeper",), 2, ("ZK_QUORUM_TLS='perhaps'",), env={"ZK_QUORUM_TLS": "perhaps"}),
    Case("fips-mode-sometimes", ("zkboot", "start", "--fips-mode", "sometimes"), 2, ("--fips-mode='sometimes'",)),
    Case("tls-dir-missing-files", ("zkboot", "start", "--secure-client-port", "2281", "--tls-dir", "{tmp}/no-tls"), 1,
         ("--tls-dir={tmp}/no-tls", "{tmp}/no-tls/tls.crt", "cannot read")),
    Case("quorum-sasl-dir-missing-files", ("start-zookeeper",), 1,
         ("ZK_QUORUM_SASL_DIR={tmp}/no-sasl", "{tmp}/no-sasl/username", "cannot read"),
         env={"ZK_QUORUM_SASL_DIR": "{tmp}/no-sasl"}),
    # zkGenConfig.sh needs ZK_REPLICAS
    Case("zkgenconfig-without-replicas", ("zkGenConfig.sh",), 2, ("ZK_REPLICAS",)),
    # the environment
    Case("myid-mismatch", ("start-zookeeper",), 1, ("{data}/myid", "'2'", "myid 1"), myid="2\n"),
    Case("myid-mismatch-zkgenconfig", ("zkGenConfig.sh", "--servers=3", f"--hostname=zk-2.{DOMAIN}"), 1,
         ("{data}/myid", "'1'", "myid 3")),
    Case("no-zookeeper", ("zkboot", "start", "--zookeeper-home", "{tmp}/no-zookeeper"), 1, ("{tmp}/no-zookeeper",)),
    Case("unwritable-conf-dir", ("start-zookeeper",), 1, ("{conf}", "cannot write"), unprivileged=True),
    Case("unwritable-conf-dir-zkgenconfig", ("zkGenConfig.sh",), 1, ("{conf}", "cannot write"),
         env={"ZK_REPLICAS": "1"}, unprivileged=True),
]  # fmt: skip


def prepare(tmp: Path, myid: str) -> None:
    (tmp / "conf").mkdir()
    (tmp / "conf" / "zoo.cfg").write_text("# from a previous start\nclientPort=2181\ntickTime=1\n")
    (tmp / "conf" / "java.env").write_text('SERVER_JVMFLAGS="-Xmx64M"\n')
    (tmp / "data" / "version-2").mkdir(parents=True)
    (tmp / "data" / "myid").write_text(myid)
    (tmp / "data" / "version-2" / "snapshot.100000000").write_bytes(SNAPSHOT_BYTES)
    stub_home(tmp / "fake-zookeeper", FAKE_ZKSERVER)
    for directory in (tmp, *(p for p in tmp.rglob("*") if p.is_dir())):
        directory.chmod(0o755)


@pytest.fixture
def read_only_conf(tmp_path: Path, unprivileged: Unprivileged) -> Iterator[tuple[list[str], Callable[[], None] | None]]:
    """How to run a command so that the conf dir is not writable for it: (argv prefix, preexec_fn).

    The conf dir becomes read-only.  As root, permission bits mean nothing, so the command runs as
    nobody through ``setpriv`` (or ``os.setuid`` in preexec_fn without it); see ``unprivileged``.
    """
    conf = tmp_path / "conf"
    conf.chmod(0o555)
    prefix = unprivileged.setpriv()
    try:
        yield prefix, (None if prefix else unprivileged.become)
    finally:
        conf.chmod(0o755)


def fill(text: str, tmp: Path) -> str:
    return text.replace("{conf}", str(tmp / "conf")).replace("{data}", str(tmp / "data")).replace("{tmp}", str(tmp))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    prepare(tmp_path, case.myid)
    prefix: list[str] = []
    preexec: Callable[[], None] | None = None
    if case.unprivileged:
        prefix, preexec = request.getfixturevalue("read_only_conf")
    before = snapshot(tmp_path)

    env = clean_env(tmp_path, PYTHONDONTWRITEBYTECODE="1", ZK_HOSTNAME="zk-0", ZK_HOME=str(tmp_path / "fake-zookeeper"))
    for name, value in case.env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = fill(value, tmp_path)
    command = [*prefix, script(case.argv[0]), *(fill(arg, tmp_path) for arg in case.argv[1:])]
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=20, check=False, preexec_fn=preexec
    )

    assert result.returncode == case.code, f"exit {result.returncode}, stderr: {result.stderr!r}"
    assert "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before
    assert result.stdout == ""
    for fragment in case.fragments:
        assert fill(fragment, tmp_path) in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {result.stderr!r}"
    assert result.stderr.endswith("\n")

"""Golden tests of the rendered files, in process and through ``zkboot render``: the zoo.cfg pairs the old
scripts' command lines give (the kubernetes-zookeeper StatefulSet's ``start-zookeeper`` flags, the k8szk
chart's ``ZK_*`` variables), in their order, with the old typos fixed."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.helpers import DEBIAN_INSTALLATION as DEBIAN
from tests.helpers import clean_env, old_start_pairs, script
from zkboot.cli import start as start_cli
from zkboot.identity import SystemNames, derive
from zkboot.installation import Installation
from zkboot.settings.resolve import resolve
from zkboot.settings.schema import Settings
from zkboot.settings.values import LOG_LEVELS
from zkboot.start import pipeline, plan
from zkboot.start.launch import jvm_flags
from zkboot.start.logconfig import backends as log_backends
from zkboot.start.render import RenderedFile, render

OLD_START_FLAGS = (
    "--servers=3 --data_dir=/var/lib/zookeeper/data --data_log_dir=/var/lib/zookeeper/data/log "
    "--conf_dir=/opt/zookeeper/conf --client_port=2181 --election_port=3888 --server_port=2888 "
    "--tick_time=2000 --init_limit=10 --sync_limit=5 --heap=512M --max_client_cnxns=60 "
    "--snap_retain_count=3 --purge_interval=12 --max_session_timeout=40000 --min_session_timeout=4000 "
    "--log_level=INFO"
)
OLD_START_POD = SystemNames("zok-0", "zok-0.zk-hs.default.svc.cluster.local")
OLD_START_PAIRS = old_start_pairs("zok")

K8SZK_ENV = {
    "ZK_REPLICAS": "2",
    "ZK_HEAP_SIZE": "2G",
    "ZK_TICK_TIME": "2000",
    "ZK_INIT_LIMIT": "10",
    "ZK_SYNC_LIMIT": "5",
    "ZK_MAX_CLIENT_CNXNS": "60",
    "ZK_SNAP_RETAIN_COUNT": "3",
    "ZK_PURGE_INTERVAL": "1",
    "ZK_LOG_LEVEL": "INFO",
    "ZK_CLIENT_PORT": "2181",
    "ZK_SERVER_PORT": "2888",
    "ZK_ELECTION_PORT": "3888",
}
K8SZK_POD = SystemNames("myzk-zookeeper-0", "myzk-zookeeper-0.myzk-zookeeper-headless.default.svc.cluster.local")
K8SZK_PAIRS = [
    ("clientPort", "2181"),
    ("dataDir", "/var/lib/zookeeper/data"),
    ("dataLogDir", "/var/lib/zookeeper/log"),
    ("tickTime", "2000"),
    ("initLimit", "10"),
    ("syncLimit", "5"),
    ("maxClientCnxns", "60"),
    ("minSessionTimeout", "4000"),
    ("maxSessionTimeout", "40000"),
    ("autopurge.snapRetainCount", "3"),
    ("autopurge.purgeInterval", "1"),
    ("server.1", "myzk-zookeeper-0.myzk-zookeeper-headless.default.svc.cluster.local:2888:3888"),
    ("server.2", "myzk-zookeeper-1.myzk-zookeeper-headless.default.svc.cluster.local:2888:3888"),
]
PRODUCT_KEYS = ["4lw.commands.whitelist", "admin.enableServer", "admin.serverPort", "admin.serverAddress"]

UPSTREAM_38 = Installation(Path("/opt/zookeeper/bin/zkServer.sh"), "upstream", "3.8.0", "logback", ())
UPSTREAM_35 = Installation(Path("/opt/zookeeper/bin/zkServer.sh"), "upstream", "3.5.9", "log4j", ())
INSTALLATIONS = {"none": None, "upstream-3.8": UPSTREAM_38, "upstream-3.5": UPSTREAM_35, "debian": DEBIAN}


def legacy_settings(flags: str, environ: dict[str, str] | None = None) -> Settings:
    parsed = start_cli.parse(shlex.split(flags))
    assert parsed is not None
    return resolve(parsed, environ or {})


def files_by_name(files: Sequence[RenderedFile]) -> dict[str, RenderedFile]:
    return {Path(f.path).name: f for f in files}


def rendered(
    settings: Settings, system: SystemNames | None, installation: Installation | None = None
) -> tuple[RenderedFile, ...]:
    """The files a plan with ``installation`` renders, with what a first boot decides (as ``zkboot render``)."""
    made = plan.with_installation(settings, derive(settings, system), installation, {}, need_secrets=False)
    return render(made, pipeline.local_membership(made))


def render_files(
    settings: Settings, system: SystemNames | None, installation: Installation | None = None
) -> dict[str, RenderedFile]:
    return files_by_name(rendered(settings, system, installation))


def cfg_pairs(text: str) -> list[tuple[str, str]]:
    """zoo.cfg's key=value lines, in order, ignoring comments and blank lines."""
    pairs = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        pairs.append((key, value))
    return pairs


def assert_well_formed(text: str) -> None:
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+=\S(.*\S)?", line), f"malformed zoo.cfg line {line!r}"
    assert "purgeInteval" not in text
    assert ".:" not in text


@pytest.mark.parametrize("installation", list(INSTALLATIONS), ids=list(INSTALLATIONS))
def test_old_start_zoo_cfg(installation: str) -> None:
    settings = legacy_settings(OLD_START_FLAGS)
    zoo = render_files(settings, OLD_START_POD, INSTALLATIONS[installation])["zoo.cfg"]
    assert zoo.path == "/opt/zookeeper/conf/zoo.cfg"
    assert zoo.kind == "config"
    pairs = cfg_pairs(zoo.content)
    assert pairs[: len(OLD_START_PAIRS)] == OLD_START_PAIRS
    rest = pairs[len(OLD_START_PAIRS) :]
    assert [key for key, _ in rest] == PRODUCT_KEYS
    # Nothing in the old flags asks for more: the probes' three words, and the admin server off
    # (an unauthenticated HTTP port is opt-in, --admin-server=on), on its default port, on loopback.
    assert dict(rest) == {
        "4lw.commands.whitelist": "ruok,srvr,mntr",
        "admin.enableServer": "false",
        "admin.serverPort": "8080",
        "admin.serverAddress": "127.0.0.1",
    }
    assert_well_formed(zoo.content)


def test_old_start_extra_keys_come_last() -> None:
    settings = legacy_settings(OLD_START_FLAGS + " --set snapCount=10000 --set=jute.maxbuffer=4194304")
    pairs = cfg_pairs(render_files(settings, OLD_START_POD)["zoo.cfg"].content)
    assert pairs[: len(OLD_START_PAIRS)] == OLD_START_PAIRS
    assert [key for key, _ in pairs[len(OLD_START_PAIRS) : -2]] == PRODUCT_KEYS
    assert pairs[-2:] == [("snapCount", "10000"), ("jute.maxbuffer", "4194304")]


def test_old_start_whitelist_and_admin_from_settings() -> None:
    settings = legacy_settings(OLD_START_FLAGS + " --4lw-whitelist=stat,conf --admin-server=on --admin-port=9090")
    pairs = dict(cfg_pairs(render_files(settings, OLD_START_POD)["zoo.cfg"].content))
    assert pairs["4lw.commands.whitelist"] == "ruok,srvr,mntr,stat,conf"
    assert pairs["admin.enableServer"] == "true"
    assert pairs["admin.serverPort"] == "9090"


def test_k8szk_zoo_cfg() -> None:
    settings = resolve({}, K8SZK_ENV)
    files = render_files(settings, K8SZK_POD)
    zoo = files["zoo.cfg"].content
    pairs = cfg_pairs(zoo)
    assert pairs[: len(K8SZK_PAIRS)] == K8SZK_PAIRS
    assert [key for key, _ in pairs[len(K8SZK_PAIRS) :]] == PRODUCT_KEYS
    assert_well_formed(zoo)
    assert "= " not in zoo and " =" not in zoo
    assert "autopurge.purgeInterval=1\n" in zoo
    assert files["myid"].content == "1\n"
    assert files["myid"].path == "/var/lib/zookeeper/data/myid"
    assert files["myid"].kind == "myid"


def test_zoo_cfg_comment_names_the_pod() -> None:
    settings = resolve({}, K8SZK_ENV)
    zoo = render_files(settings, K8SZK_POD)["zoo.cfg"].content
    comments = [line for line in zoo.splitlines() if line.startswith("#")]
    assert any("myzk-zookeeper-0.myzk-zookeeper-headless.default.svc.cluster.local" in c for c in comments)


@pytest.mark.parametrize("heap", ["512M", "2G", "1536m"])
@pytest.mark.parametrize("installation", list(INSTALLATIONS), ids=list(INSTALLATIONS))
def test_java_env_has_one_heap_pair(heap: str, installation: str) -> None:
    settings = legacy_settings(OLD_START_FLAGS + f" --heap={heap}")
    java_env = render_files(settings, OLD_START_POD, INSTALLATIONS[installation])["java.env"].content
    tokens = java_env.replace('"', " ").split()
    assert [t for t in tokens if t.startswith("-Xmx")] == [f"-Xmx{heap}"]
    assert [t for t in tokens if t.startswith("-Xms")] == [f"-Xms{heap}"]
    assert 'ZOO_LOG_DIR="/var/log/zookeeper"' in java_env


def test_java_env_classpath_only_for_fixed_layout() -> None:
    settings = legacy_settings(OLD_START_FLAGS)
    debian = render_files(settings, OLD_START_POD, DEBIAN)["java.env"].content
    upstream = render_files(settings, OLD_START_POD, UPSTREAM_38)["java.env"].content
    assert "-cp /opt/zookeeper/conf:/usr/share/java/zookeeper.jar:" in debian
    assert "-cp" not in upstream


@pytest.mark.parametrize(
    ("flags", "environ", "system"),
    [
        ("--servers=1", {}, OLD_START_POD),
        ("", {}, SystemNames("zk-0", "zk-0")),
        ("--hostname=zk-0", {"ZK_DOMAIN": "zk-hs.default.svc.cluster.local"}, None),
    ],
    ids=["servers-1-with-domain", "default-servers-no-domain", "hostname-flag"],
)
def test_standalone_has_no_server_lines(flags: str, environ: dict[str, str], system: SystemNames | None) -> None:
    settings = legacy_settings(flags, environ)
    zoo = render_files(settings, system)["zoo.cfg"].content
    assert not [line for line in zoo.splitlines() if re.match(r"^server\.[0-9]+=", line)]
    keys = [key for key, _ in cfg_pairs(zoo)]
    assert keys[:11] == [key for key, _ in OLD_START_PAIRS[:11]]
    assert keys[11:] == PRODUCT_KEYS
    assert_well_formed(zoo)


@pytest.mark.parametrize("level", LOG_LEVELS)
def test_log_configuration_carries_level(level: str) -> None:
    settings = legacy_settings(OLD_START_FLAGS + f" --log_level={level.lower()}")
    files = render_files(settings, OLD_START_POD, None)
    log4j = files["log4j.properties"]
    logback = files["logback.xml"]
    assert log4j.path == "/opt/zookeeper/conf/log4j.properties"
    assert logback.path == "/opt/zookeeper/conf/logback.xml"
    assert f"log4j.rootLogger={level}, CONSOLE" in log4j.content
    assert f"log4j.appender.CONSOLE.Threshold={level}" in log4j.content
    expected_logback = "ERROR" if level == "FATAL" else level
    assert re.findall(r'<root level="([A-Z]+)">', logback.content) == [expected_logback]
    assert "FATAL" not in logback.content
    assert "ConsoleAppender" in log4j.content and "ConsoleAppender" in logback.content


# (log_backend setting, installation, expected backends)
BACKENDS = [
    ("auto", "none", ("log4j", "logback")),
    ("auto", "upstream-3.8", ("logback",)),
    ("auto", "upstream-3.5", ("log4j",)),
    ("auto", "debian", ("log4j",)),
    ("log4j", "upstream-3.8", ("log4j",)),
    ("logback", "debian", ("logback",)),
    ("logback", "none", ("logback",)),
    ("log4j", "none", ("log4j",)),
]


@pytest.mark.parametrize(("backend", "installation", "expected"), BACKENDS, ids=[f"{b}-on-{i}" for b, i, _ in BACKENDS])
def test_log_backends_setting_then_installation_then_both(
    backend: str, installation: str, expected: tuple[str, ...]
) -> None:
    settings = resolve({"log_backend": backend}, {})
    found = INSTALLATIONS[installation]
    assert log_backends(settings, found) == expected
    names = set(render_files(settings, SystemNames("zk-0", "zk-0"), found))
    assert ("log4j.properties" in names) == ("log4j" in expected)
    assert ("logback.xml" in names) == ("logback" in expected)
    java_env = render_files(settings, SystemNames("zk-0", "zk-0"), found)["java.env"].content
    assert ("-Dlog4j.configuration=file:/opt/zookeeper/conf/log4j.properties" in java_env) == ("log4j" in expected)
    assert ("-Dlogback.configurationFile=/opt/zookeeper/conf/logback.xml" in java_env) == ("logback" in expected)


def test_render_file_order_and_kinds() -> None:
    settings = legacy_settings(OLD_START_FLAGS)
    files = rendered(settings, OLD_START_POD)
    assert [(Path(f.path).name, f.kind) for f in files] == [
        ("zoo.cfg", "config"),
        ("java.env", "config"),
        ("java.security", "config"),
        ("log4j.properties", "config"),
        ("logback.xml", "config"),
        ("myid", "myid"),
    ]


# --- through the console script -------------------------------------------------------------------


def run_render(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    conf, data = tmp_path / "conf", tmp_path / "data"
    env = clean_env(PYTHONDONTWRITEBYTECODE="1")
    command = [
        script("zkboot"),
        "render",
        *shlex.split(OLD_START_FLAGS),
        f"--conf_dir={conf}",
        f"--data_dir={data}",
        f"--data_log_dir={data}/log",
        f"--log-dir={tmp_path}/logs",
        f"--zookeeper-home={tmp_path}/no-zookeeper",
        "--hostname",
        "zok-0",
        "--domain",
        "zk-hs.default.svc.cluster.local",
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=30, check=False)


def test_cli_render_text_headers(tmp_path: Path) -> None:
    result = run_render(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    headers = re.findall(r"^==> (.+) <==$", result.stdout, re.MULTILINE)
    conf, data = tmp_path / "conf", tmp_path / "data"
    assert headers == [
        f"{conf}/zoo.cfg",
        f"{conf}/java.env",
        f"{conf}/java.security",
        f"{conf}/log4j.properties",
        f"{conf}/logback.xml",
        f"{data}/myid",
    ]
    zoo_text = result.stdout.split(f"==> {conf}/zoo.cfg <==\n", 1)[1].split("\n==> ", 1)[0]
    expected = [*OLD_START_PAIRS[:2], ("dataLogDir", f"{data}/log"), *OLD_START_PAIRS[3:]]
    expected[1] = ("dataDir", str(data))
    assert cfg_pairs(zoo_text)[: len(expected)] == expected
    assert result.stdout.rstrip("\n").endswith(f"==> {data}/myid <==\n1")
    assert list(tmp_path.iterdir()) == []  # render without --output-dir writes nothing


def test_cli_render_json(tmp_path: Path) -> None:
    result = run_render(tmp_path, "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"identity", "zookeeper", "heap", "jvmflags", "files", "warnings"}
    assert document["identity"] == {
        "hostname": "zok-0",
        "fqdn": "zok-0.zk-hs.default.svc.cluster.local",
        "statefulset": "zok",
        "ordinal": 0,
        "myid": 1,
        "domain": "zk-hs.default.svc.cluster.local",
        "servers": [f"{key}={value}" for key, value in OLD_START_PAIRS[11:]],
    }
    assert document["zookeeper"] is None
    assert document["heap"]["size"] == "512M"
    assert document["warnings"] == []
    assert [set(f) for f in document["files"]] == [{"path", "kind", "content"}] * 6
    by_name = {Path(f["path"]).name: f for f in document["files"]}
    assert by_name["myid"] == {"path": f"{tmp_path}/data/myid", "kind": "myid", "content": "1\n"}
    # The flags are computed once: java.env carries exactly the list the document shows.
    assert f'SERVER_JVMFLAGS="{" ".join(document["jvmflags"])}"' in by_name["java.env"]["content"].splitlines()
    assert "-Xmx512M" in document["jvmflags"]
    assert by_name["zoo.cfg"]["path"] == f"{tmp_path}/conf/zoo.cfg"
    assert "autopurge.purgeInterval=12\n" in by_name["zoo.cfg"]["content"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("servers", "warning"),
    [
        (1, None),
        (
            2,
            "--servers=2: a quorum of 2 of 2 members tolerates no failure, as 1 would; expected an odd number of "
            "servers",
        ),
        (3, None),
        (
            4,
            "--servers=4: a quorum of 3 of 4 members tolerates 1 failure, as 3 would; expected an odd number of "
            "servers",
        ),
        (5, None),
    ],
)
def test_an_even_ensemble_is_warned_about_once(servers: int, warning: str | None) -> None:
    """A Helm install with ``--set servers=2`` makes two servers: they run, and zkboot says once that two
    tolerate no failure."""
    done = subprocess.run(
        [script("zkboot"), "render", f"--servers={servers}", "--hostname=zk-0.zk-hs.default.svc.cluster.local"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "tolerates" in line]
    assert warnings == (
        [] if warning is None else [f"zkboot: warning: {warning} ({servers + 1} tolerate {servers // 2})"]
    )


def test_failed_dns_lookups_are_not_cached_by_the_jvm() -> None:
    """The JVM flags name a security properties file (one "=": over the JDK's java.security, not
    instead of it) that turns the cache of failed lookups off: a peer that appears in DNS after a
    member looked it up must be found at the next try (tests/test_integration.py runs a JVM)."""
    settings = legacy_settings(OLD_START_FLAGS)
    flags = jvm_flags(settings, "512M", None)
    assert "-Djava.security.properties=/opt/zookeeper/conf/java.security" in flags
    assert not [flag for flag in flags if "inetaddr" in flag]  # ignored once java.security sets the TTL
    files = render_files(settings, OLD_START_POD, None)
    lines = [line for line in files["java.security"].content.splitlines() if not line.startswith("#")]
    assert lines == ["networkaddress.cache.negative.ttl=0"]

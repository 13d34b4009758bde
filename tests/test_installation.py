"""Finding the installed ZooKeeper and learning its layout, version and log backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import DEBIAN_INSTALLATION, DEBIAN_ZKSERVER, UPSTREAM, executable, stub_home
from zkboot import installation as install
from zkboot.errors import EnvironmentProblem

UPSTREAM_ZKENV = """\
#!/usr/bin/env bash
ZOOBINDIR="${ZOOBINDIR:-/usr/bin}"
ZOOKEEPER_PREFIX="${ZOOBINDIR}/.."

if [ "x$ZOOCFGDIR" = "x" ]
then
  if [ -e "${ZOOKEEPER_PREFIX}/conf" ]; then
    ZOOCFGDIR="$ZOOBINDIR/../conf"
  else
    ZOOCFGDIR="$ZOOBINDIR/../etc/zookeeper"
  fi
fi

if [ -f "${ZOOCFGDIR}/java.env" ]
then
    . "${ZOOCFGDIR}/java.env"
fi
for i in "$ZOOBINDIR"/../lib/*.jar
do
    CLASSPATH="$i:$CLASSPATH"
done
"""


def upstream(root: Path, jars: list[str]) -> Path:
    """A fake upstream tarball: bin/zkServer.sh, bin/zkEnv.sh, lib/<jars>."""
    stub_home(root, "exit 0\n", jars)
    (root / "bin" / "zkEnv.sh").write_text(UPSTREAM_ZKENV)
    return root


def fixed(root: Path, classpath_jars: list[str], other_jars: tuple[str, ...] = ()) -> Path:
    """A fake Debian-style install: zkEnv.sh assigns ZOOCFGDIR and CLASSPATH unconditionally."""
    java = root / "java"
    java.mkdir(parents=True)
    for name in (*classpath_jars, *other_jars):
        (java / name).write_bytes(b"PK\x03\x04")
    entries = ":".join(str(java / name) for name in classpath_jars)
    executable(root / "share" / "bin" / "zkServer.sh")
    (root / "share" / "bin" / "zkEnv.sh").write_text(
        "# fixed environment\n"
        "ZOOCFGDIR=/etc/zookeeper/conf\n"
        "ZOO_LOG_DIR=/var/log/zookeeper\n"
        f'CLASSPATH="/etc/zookeeper/conf:{entries}"\n'
    )
    return root / "share"


# --- inspect ---------------------------------------------------------------------------------------


def test_real_upstream_layout() -> None:
    """The 3.9.5 assembly in the tarball's layout, as examined for a start."""
    why = UPSTREAM.missing()
    if why:
        pytest.skip(why)
    found = install.find(str(UPSTREAM.home), {"PATH": ""})
    assert found.layout == "upstream"
    assert found.log_backend == "logback"
    assert found.version == "3.9.5"
    assert found.classpath == ()
    assert found.zkserver == UPSTREAM.zkserver.resolve()
    assert found.bin_dir == UPSTREAM.zkserver.resolve().parent
    assert found.supports("fips_refuses_quorum_digest") and found.supports("dynamic_reconfig")


def test_upstream_36_log4j(tmp_path: Path) -> None:
    home = upstream(
        tmp_path / "zk",
        ["log4j-1.2.17.jar", "slf4j-api-1.7.25.jar", "slf4j-log4j12-1.7.25.jar", "zookeeper-3.6.4.jar"],
    )
    found = install.examine(home / "bin" / "zkServer.sh")
    assert (found.layout, found.log_backend, found.version) == ("upstream", "log4j", "3.6.4")


def test_upstream_reload4j_binding(tmp_path: Path) -> None:
    home = upstream(tmp_path / "zk", ["reload4j-1.2.22.jar", "slf4j-reload4j-1.7.36.jar", "zookeeper-3.7.2.jar"])
    found = install.examine(home / "bin" / "zkServer.sh")
    assert (found.log_backend, found.version) == ("log4j", "3.7.2")


@pytest.mark.parametrize(
    ("jars", "backend", "version"),
    [
        (["zookeeper-3.7.1.jar"], "log4j", "3.7.1"),
        (["zookeeper-3.9.2.jar"], "logback", "3.9.2"),
        (["zookeeper-3.4.14.jar"], "log4j", "3.4.14"),
        ([], "logback", None),
    ],
)
def test_upstream_backend_from_version(tmp_path: Path, jars: list[str], backend: str, version: str | None) -> None:
    """No binding jar to tell: the version decides (3.8+ ships logback)."""
    home = upstream(tmp_path / "zk", jars)
    found = install.examine(home / "bin" / "zkServer.sh")
    assert (found.layout, found.log_backend, found.version) == ("upstream", backend, version)


def test_upstream_34_jar_at_top_level(tmp_path: Path) -> None:
    """3.4 tarballs keep zookeeper-3.4.x.jar next to bin/, not in lib/."""
    home = upstream(tmp_path / "zk", ["slf4j-log4j12-1.7.25.jar"])
    (home / "zookeeper-3.4.14.jar").write_bytes(b"PK")
    found = install.examine(home / "bin" / "zkServer.sh")
    assert (found.log_backend, found.version) == ("log4j", "3.4.14")


def test_fixed_layout(tmp_path: Path) -> None:
    bin_dir = fixed(
        tmp_path / "deb",
        ["zookeeper.jar"],
        other_jars=("zookeeper-3.7.1.jar", "slf4j-log4j12.jar", "log4j-1.2.jar"),
    ).joinpath("bin")
    java = tmp_path / "deb" / "java"
    # Debian's zookeeper.jar is a link to the versioned jar.
    (java / "zookeeper.jar").unlink()
    (java / "zookeeper.jar").symlink_to("zookeeper-3.7.1.jar")
    found = install.examine(bin_dir / "zkServer.sh")
    assert found.layout == "fixed"
    assert found.log_backend == "log4j"
    assert found.version == "3.7.1"  # the jar on the classpath, not another one lying around
    assert found.classpath[0] == str(java / "zookeeper.jar")
    names = [Path(p).name for p in found.classpath]
    assert names == ["zookeeper.jar", "slf4j-log4j12.jar", "log4j-1.2.jar"]


def test_fixed_layout_with_logback_on_classpath(tmp_path: Path) -> None:
    bin_dir = fixed(
        tmp_path / "deb", ["zookeeper-3.8.1.jar", "logback-classic-1.2.11.jar", "logback-core-1.2.11.jar"]
    ).joinpath("bin")
    found = install.examine(bin_dir / "zkServer.sh")
    assert (found.layout, found.log_backend, found.version) == ("fixed", "logback", "3.8.1")
    assert [Path(p).name for p in found.classpath] == [
        "zookeeper-3.8.1.jar",
        "logback-classic-1.2.11.jar",
        "logback-core-1.2.11.jar",
    ]


def test_indented_zoocfgdir_is_not_fixed(tmp_path: Path) -> None:
    """Only an assignment at column 0 (outside any if) makes the layout fixed."""
    home = upstream(tmp_path / "zk", ["zookeeper-3.8.4.jar"])
    assert "\n    ZOOCFGDIR=" in (home / "bin" / "zkEnv.sh").read_text()
    assert install.examine(home / "bin" / "zkServer.sh").layout == "upstream"


def test_libexec_zkenv(tmp_path: Path) -> None:
    """Some packages keep zkEnv.sh in libexec/ next to bin/."""
    root = tmp_path / "pkg"
    executable(root / "bin" / "zkServer.sh")
    (root / "libexec").mkdir()
    (root / "libexec" / "zkEnv.sh").write_text(
        f'ZOOCFGDIR=/etc/zk\nCLASSPATH="/etc/zk:{tmp_path}/j/logback-classic.jar"\n'
    )
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "logback-classic.jar").write_bytes(b"PK")
    found = install.examine(root / "bin" / "zkServer.sh")
    assert (found.layout, found.log_backend) == ("fixed", "logback")


# --- candidates and find: the search order ---------------------------------------------------------


def test_candidates_order() -> None:
    environ = {"PATH": "/a/bin::/b/bin"}
    assert install.candidates(None, environ) == [
        Path("/a/bin/zkServer.sh"),
        Path("/b/bin/zkServer.sh"),
        Path("/opt/zookeeper/bin/zkServer.sh"),
        Path("/usr/share/zookeeper/bin/zkServer.sh"),
    ]


def test_candidates_explicit_home_only() -> None:
    assert install.candidates("/zk", {"PATH": "/a/bin"}) == [Path("/zk/bin/zkServer.sh")]


def test_candidates_no_path() -> None:
    assert install.candidates(None, {}) == [
        Path("/opt/zookeeper/bin/zkServer.sh"),
        Path("/usr/share/zookeeper/bin/zkServer.sh"),
    ]


def test_find_explicit_home_beats_path(tmp_path: Path) -> None:
    first = upstream(tmp_path / "first", ["zookeeper-3.8.4.jar"])
    second = upstream(tmp_path / "second", ["zookeeper-3.6.4.jar"])
    found = install.find(str(first), {"PATH": str(second / "bin")})
    assert found.zkserver == first / "bin" / "zkServer.sh"
    assert found.version == "3.8.4"


def test_find_path_order(tmp_path: Path) -> None:
    first = upstream(tmp_path / "first", ["zookeeper-3.8.4.jar"])
    second = upstream(tmp_path / "second", ["zookeeper-3.6.4.jar"])
    path = os.pathsep.join([str(tmp_path / "nothing"), str(second / "bin"), str(first / "bin")])
    assert install.find(None, {"PATH": path}).zkserver == second / "bin" / "zkServer.sh"


def test_find_path_skips_non_executable(tmp_path: Path) -> None:
    first = upstream(tmp_path / "first", ["zookeeper-3.8.4.jar"])
    second = upstream(tmp_path / "second", ["zookeeper-3.6.4.jar"])
    (second / "bin" / "zkServer.sh").chmod(0o644)
    path = os.pathsep.join([str(second / "bin"), str(first / "bin")])
    assert install.find(None, {"PATH": path}).zkserver == first / "bin" / "zkServer.sh"


def test_find_path_symlink_resolves_to_install(tmp_path: Path) -> None:
    """A zkServer.sh on PATH that links into an installation is inspected where it lives."""
    home = upstream(tmp_path / "zk", ["logback-classic-1.2.10.jar", "zookeeper-3.8.4.jar"])
    links = tmp_path / "usrbin"
    links.mkdir()
    (links / "zkServer.sh").symlink_to(home / "bin" / "zkServer.sh")
    found = install.find(None, {"PATH": str(links)})
    assert found.zkserver == home / "bin" / "zkServer.sh"
    assert (found.layout, found.log_backend, found.version) == ("upstream", "logback", "3.8.4")


@pytest.mark.parametrize("make", ["empty", "not-executable", "directory"])
def test_find_explicit_home_without_zkserver(tmp_path: Path, make: str) -> None:
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    if make == "not-executable":
        (home / "bin" / "zkServer.sh").write_text("#!/bin/sh\n")
    elif make == "directory":
        (home / "bin" / "zkServer.sh").mkdir()
    # A valid installation on PATH must not be used instead of the explicit one.
    other = upstream(tmp_path / "other", ["zookeeper-3.8.4.jar"])
    with pytest.raises(EnvironmentProblem) as info:
        install.find(str(home), {"PATH": str(other / "bin")}, "ZK_HOME")
    message = str(info.value)
    assert f"ZK_HOME={home}" in message
    assert "bin/zkServer.sh" in message
    assert info.value.exit_code == 1


def test_find_nothing_names_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "SEARCH_DIRS", (str(tmp_path / "opt"), str(tmp_path / "usr")))
    with pytest.raises(EnvironmentProblem) as info:
        install.find(None, {"PATH": str(tmp_path)})
    message = str(info.value)
    assert "PATH" in message and "/opt/zookeeper/bin" in message and "/usr/share/zookeeper/bin" in message


# --- the real Debian package on this machine -----------------------------------------------------


@pytest.mark.skipif(not DEBIAN_ZKSERVER.is_file(), reason="Debian's zookeeper package is not installed")
@pytest.mark.skipif(Path("/opt/zookeeper/bin/zkServer.sh").exists(), reason="/opt/zookeeper comes first")
def test_real_debian_install() -> None:
    found = install.find(None, {"PATH": ""})
    assert found.zkserver == DEBIAN_ZKSERVER
    assert found.layout == "fixed"
    assert found.version == "3.8.0"
    assert found.log_backend == "log4j"
    names = [Path(p).name for p in found.classpath]
    assert "zookeeper.jar" in names
    assert "slf4j-log4j12.jar" in names
    assert "log4j-1.2.jar" in names
    assert all(Path(p).is_file() for p in found.classpath)
    # The hand-built copy the rendering tests use is what the machine really gives.
    assert found == DEBIAN_INSTALLATION

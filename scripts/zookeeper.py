#!/usr/bin/env python3
"""Assemble upstream ZooKeeper (the layout of Apache's -bin tarball) from Maven Central's jars.

The image ships Apache's ZooKeeper 3.9 tarball; the tests run that ZooKeeper beside Debian's 3.8.0
package.  Apache's tarball itself is in no registry the project's machines reach, but its ``lib/``
is: every jar in it is on Maven Central.  So ``./dev setup`` builds, once, under
``.tools/zookeeper-<version>/``:

* ``lib/``: the tarball's jars, by pinned coordinates (scripts/zookeeper-lib.txt), fetched with
  ``mvn dependency:copy-dependencies`` (no transitive resolution: the list is the whole lib) and
  checked against the pinned SHA-256 of each; logback is the slf4j binding, and the Prometheus
  metrics provider with its simpleclient jars is there;
* ``bin/zkServer.sh``: Debian's (upstream's 3.8.0 script; upstream's own ``bin/`` is in no
  registry), and ``bin/zkEnv.sh``: ZK_ENV below, which does what upstream's does that
  zkServer.sh and zkboot rely on;
* ``conf/``: empty but for a sample, as zkboot writes zoo.cfg, java.env and logback.xml to its
  own conf dir.

What still differs from the tarball is listed in docs/testing.md.  The tree is remade only when
its inputs change (a key file holds their digest).

    .venv/bin/python scripts/zookeeper.py        # prints nothing when the tree is current

Errors: one line on stderr, exit 1.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = "3.9.5"
HOME = ROOT / ".tools" / f"zookeeper-{VERSION}"
DEBIAN_ZKSERVER = Path("/usr/share/zookeeper/bin/zkServer.sh")
TIMEOUT = 900.0  # seconds for Maven

# Apache ZooKeeper's -bin tarball lib/: (coordinate, SHA-256) per jar, from LIB_TABLE.
LIB_TABLE = Path(__file__).with_name("zookeeper-lib.txt")
JARS = tuple(
    (fields[0], fields[1])
    for fields in (line.split() for line in LIB_TABLE.read_text().splitlines())
    if fields and not fields[0].startswith("#")
)

# What upstream's bin/zkEnv.sh does that zkServer.sh and zkboot rely on, in the tarball's layout.
ZK_ENV = """\
# zkEnv.sh of zkboot's test installations (upstream's layout: the environment decides).
ZOOKEEPER_PREFIX="${ZOOBINDIR}/.."
if [ -z "$ZOOCFGDIR" ]; then ZOOCFGDIR="$ZOOKEEPER_PREFIX/conf"; fi
if [ -f "$ZOOCFGDIR/java.env" ]; then . "$ZOOCFGDIR/java.env"; fi
ZOOCFG="$ZOOCFGDIR/${ZOOCFG:-zoo.cfg}"
if [ -z "$ZOO_LOG_DIR" ]; then ZOO_LOG_DIR="$ZOOKEEPER_PREFIX/logs"; fi
if [ -n "$JAVA_HOME" ]; then JAVA="$JAVA_HOME/bin/java"; else JAVA=java; fi
CLASSPATH="$ZOOCFGDIR"
for jar in "$ZOOKEEPER_PREFIX"/lib/*.jar; do CLASSPATH="$CLASSPATH:$jar"; done
export SERVER_JVMFLAGS="-Xmx${ZK_SERVER_HEAP:-1000}m $SERVER_JVMFLAGS"
JVMFLAGS="$SERVER_JVMFLAGS $JVMFLAGS"
"""

SAMPLE_CFG = "tickTime=2000\ndataDir=/tmp/zookeeper\nclientPort=2181\n"


class AssemblyError(Exception):
    """Why the installation could not be assembled: one line."""


def file_name(coordinate: str) -> str:
    """The name copy-dependencies gives a coordinate's jar."""
    _group, artifact, version, *classifier = coordinate.split(":")
    return f"{artifact}-{version}" + (f"-{classifier[0]}" if classifier else "") + ".jar"


def pom() -> str:
    entries = []
    for coordinate, _ in JARS:
        group, artifact, version, *classifier = coordinate.split(":")
        extra = f"<classifier>{classifier[0]}</classifier>" if classifier else ""
        entries.append(
            f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version>{extra}</dependency>"
        )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>zkboot.tests</groupId><artifactId>zookeeper-lib</artifactId><version>1</version>"
        "<packaging>pom</packaging><dependencies>" + "".join(entries) + "</dependencies></project>\n"
    )


def key() -> str:
    parts = [VERSION, ZK_ENV, SAMPLE_CFG, *(f"{c}={h}" for c, h in JARS), DEBIAN_ZKSERVER.read_text()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def fetch_jars(work: Path) -> Path:
    """The pinned jars in ``work/lib``, every checksum verified."""
    if shutil.which("mvn") is None:
        raise AssemblyError("mvn is not installed: expected Debian's maven package")
    (work / "pom.xml").write_text(pom())
    lib = work / "lib"
    argv = ["mvn", "--batch-mode", "--quiet", "--file", str(work / "pom.xml"), "dependency:copy-dependencies",
            "-DexcludeTransitive=true", f"-DoutputDirectory={lib}"]  # fmt: skip
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AssemblyError(f"mvn failed ({exc})") from None
    if result.returncode != 0:
        errors = [line for line in result.stdout.splitlines() if "ERROR" in line] or ["no output"]
        raise AssemblyError(f"mvn exited {result.returncode}: {errors[0].strip()}")
    expected = {file_name(c): digest for c, digest in JARS}
    found = {path.name for path in lib.glob("*.jar")}
    if found != set(expected):
        raise AssemblyError(f"{lib}: got jars {sorted(found ^ set(expected))} unexpectedly; expected exactly JARS")
    for name, digest in expected.items():
        seen = hashlib.sha256((lib / name).read_bytes()).hexdigest()
        if seen != digest:
            raise AssemblyError(f"{name}: SHA-256 {seen}; expected {digest}")
    return lib


def assemble() -> None:
    if not DEBIAN_ZKSERVER.is_file():
        raise AssemblyError(f"{DEBIAN_ZKSERVER} is missing: expected Debian's zookeeper package")
    wanted = key()
    key_file = HOME.with_name(HOME.name + ".key")
    if HOME.is_dir() and key_file.is_file() and key_file.read_text().strip() == wanted:
        return
    print(f"==> assembling upstream ZooKeeper {VERSION} from Maven Central's jars", file=sys.stderr)
    HOME.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=HOME.parent, prefix=".zookeeper-") as scratch:
        work = Path(scratch)
        tree = work / "tree"
        (tree / "bin").mkdir(parents=True)
        (tree / "conf").mkdir()
        fetch_jars(work).rename(tree / "lib")
        shutil.copyfile(DEBIAN_ZKSERVER, tree / "bin" / "zkServer.sh")
        (tree / "bin" / "zkEnv.sh").write_text(ZK_ENV)
        (tree / "conf" / "zoo_sample.cfg").write_text(SAMPLE_CFG)
        for script in (tree / "bin").iterdir():
            script.chmod(0o755)
        # Readable by every user: the tests also start ZooKeeper as nobody.
        for path in (tree, tree / "bin", tree / "conf", tree / "lib"):
            path.chmod(0o755)
        for path in [*(tree / "lib").iterdir(), tree / "conf" / "zoo_sample.cfg"]:
            path.chmod(0o644)
        key_file.unlink(missing_ok=True)
        shutil.rmtree(HOME, ignore_errors=True)
        os.replace(tree, HOME)
    key_file.write_text(wanted + "\n")


def main() -> int:
    try:
        assemble()
    except (AssemblyError, OSError) as exc:
        print(f"zookeeper: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

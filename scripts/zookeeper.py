#!/usr/bin/env python3
"""Assemble upstream ZooKeeper (the layout of Apache's -bin tarball) from Maven Central's jars.

The image ships Apache's ZooKeeper 3.9 tarball; the tests run that ZooKeeper beside Debian's 3.8.0
package.  Apache's tarball itself is in no registry the project's machines reach, but its ``lib/``
is: every jar in it is on Maven Central.  So ``./dev setup`` builds, once, under
``.tools/zookeeper-<version>/``:

* ``lib/``: the tarball's jars, by pinned coordinates (JARS below), fetched with
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

# Apache ZooKeeper 3.9.5's -bin tarball lib/, as "group:artifact:version[:classifier]" and the
# jar's SHA-256.  The Prometheus provider is 3.9.4's: Maven Central does not serve a 3.9.5 build of
# zookeeper-prometheus-metrics (its jar is the same provider code; it depends on no 3.9.5 API).
JARS = (
    ("ch.qos.logback:logback-classic:1.3.15", "06c68fb7468143c3c6512d13bb8eb6676724b019330de3a5ab493e267dde2084"),
    ("ch.qos.logback:logback-core:1.3.15", "90b72ec457f30f8f42a280a409ab2bc4499fec16983005d1d91015199be7047b"),
    ("com.fasterxml.jackson.core:jackson-annotations:2.15.2", "04e21f94dcfee4b078fa5a5f53047b785aaba69d19de392f616e7a7fe5d3882f"),
    ("com.fasterxml.jackson.core:jackson-core:2.15.2", "303c99e82b1faa91a0bae5d8fbeb56f7e2adf9b526a900dd723bf140d62bd4b4"),
    ("com.fasterxml.jackson.core:jackson-databind:2.15.2", "0eb2fdad6e40ab8832a78c9b22f58196dd970594e8d3d5a26ead87847c4f3a96"),
    ("commons-cli:commons-cli:1.5.0", "bc8bb01fc0fad250385706e20f927ddcff6173f6339b387dc879237752567ac6"),
    ("commons-io:commons-io:2.17.0", "4aa4ca48f3dfd30b78220b7881d8cb93eac4093ec94361b6befa9487998a550b"),
    ("io.dropwizard.metrics:metrics-core:4.1.12.1", "cec34936faa625039f4e46123eccaa10a9eb9d9a40c6075830cd81330e259cf9"),
    ("io.netty:netty-buffer:4.1.130.Final", "00a522b67ea35cb7b4dd9cf27f85c6c58f5e306785aa045302e5f6b2d4944a87"),
    ("io.netty:netty-codec:4.1.130.Final", "52636bc29bd62120b97bbe5d1d21eab9b1cb2bef8efbb54d2221c5f3fa08d8cd"),
    ("io.netty:netty-common:4.1.130.Final", "53921f28dd5a352b1bed0e1cbcc54d013dc60ffebeae9b2b1e53eabef317e581"),
    ("io.netty:netty-handler:4.1.130.Final", "98c78ec187ca30a4b9775bf6f632f5c9929db6bf06a60e6971f945813880ca0f"),
    ("io.netty:netty-resolver:4.1.130.Final", "48c5b218a89d184e1b601d46433957f515fcefdb4464182b1348bce4f5a18f35"),
    ("io.netty:netty-tcnative-boringssl-static:2.0.74.Final", "ec3b14ceff74c5d7e24a378e64074744cc5e7035c49cf6ca0a4e23dff9713d1f"),
    ("io.netty:netty-tcnative-boringssl-static:2.0.74.Final:linux-aarch_64", "11dfee82cfcb5c4f596271fe1d56a70fe77b4034e54162d0bd211623b540857f"),
    ("io.netty:netty-tcnative-boringssl-static:2.0.74.Final:linux-x86_64", "39ac6b1eb4ffc18d5fe9412cc6253a8954bafc8e3ca10109bc370490f73a3673"),
    ("io.netty:netty-tcnative-boringssl-static:2.0.74.Final:osx-aarch_64", "eef3fc7cdc5e2dc8c5cb50bae11443052bf1ee2f6e8b64378565746d1529f05e"),
    ("io.netty:netty-tcnative-boringssl-static:2.0.74.Final:osx-x86_64", "e3beaa3ebdb136569528c59aa826d771efadc0ac9db484c6c0e457fa5efd0f07"),
    ("io.netty:netty-tcnative-boringssl-static:2.0.74.Final:windows-x86_64", "5458b4b502763d49cd2e16c434312687178afac9c164cabf75c4a8bcecf7ac50"),
    ("io.netty:netty-tcnative-classes:2.0.74.Final", "194874cf723794dd409fd1e728cd91ffbcff0584d73b4d8a1ad0d69d04acf9b3"),
    ("io.netty:netty-transport-classes-epoll:4.1.130.Final", "1c352508d70aca1ccc3068daac907ad1e9d8dc68b07148d57426730bf0d0c8b6"),
    ("io.netty:netty-transport-native-epoll:4.1.130.Final:linux-x86_64", "d5d4611cb667eb215667c65aabfc75f8d9ef24de2a3e3a32eb28204f9c2a7a30"),
    ("io.netty:netty-transport-native-unix-common:4.1.130.Final", "cf5efc4168597d7cd14695b469418cac2a1134533f9a0c82ef0538d796fd39e1"),
    ("io.netty:netty-transport:4.1.130.Final", "1bf573266d271f856705a9984d25449c56a1d73c02a16af12033ceccfe555dbb"),
    ("io.prometheus:simpleclient:0.9.0", "72d6dc49c023a4b3345d8a8a82d947ea24d07b1ad60cf57fee85a6f77b149a19"),
    ("io.prometheus:simpleclient_common:0.9.0", "97d404dca184d2a07817ccae2ef1df9fb34b84526c44cf2367ef0ba8031759c0"),
    ("io.prometheus:simpleclient_hotspot:0.9.0", "927fc7069f9a8ebd1a8420c3bb1675a957bd359b95e50664aa96e387d4b0a256"),
    ("io.prometheus:simpleclient_servlet:0.9.0", "12cf7668b6f4941dbc8dac6dc270db0e579b216be0aee74a6ad98d7d6e8aa228"),
    ("javax.servlet:javax.servlet-api:3.1.0", "af456b2dd41c4e82cf54f3e743bc678973d9fe35bd4d3071fa05c7e5333b8482"),
    ("org.apache.yetus:audience-annotations:0.12.0", "ffb101fc066360ff3c77457c927fd7967fb096a6ee9e046ab7071447d8208efc"),
    ("org.apache.zookeeper:zookeeper-jute:3.9.5", "abcbc7f9d6c493daa118da6fa3061a201e2c521217526e8535adfb56b629e52a"),
    ("org.apache.zookeeper:zookeeper-prometheus-metrics:3.9.4", "51853ff241cbb6a8a6249138ed941644fb01035f82b322915f554bdf06f22afa"),
    ("org.apache.zookeeper:zookeeper:3.9.5", "936d025db1a85f085edea25048c3f5b3de5fc29329c371a10925e3b78b0b38a0"),
    ("org.eclipse.jetty:jetty-http:9.4.58.v20250814", "8f49b8583fc8dbbfe3a0ba80a04c97df64ebabca2981b56ee403c989aba9d4da"),
    ("org.eclipse.jetty:jetty-io:9.4.58.v20250814", "f55b2cc7c05244fd7b1773e99979b740002b0186e45b8a688243d89c7006fe21"),
    ("org.eclipse.jetty:jetty-security:9.4.58.v20250814", "301548ebf008551a3a4312b04df0ea0468acc2780f863b83cc9cf0d668e62252"),
    ("org.eclipse.jetty:jetty-server:9.4.58.v20250814", "608dbd3e1c4184374f02c70704e5d1c9daaded45e6a31d07824f40dac6083ba9"),
    ("org.eclipse.jetty:jetty-servlet:9.4.58.v20250814", "1c6bb17326147e642c8a41e4657b32bca5057c8958db4da770d09c0904aefcff"),
    ("org.eclipse.jetty:jetty-util-ajax:9.4.58.v20250814", "185430a2eafcdffba18204dbf51cb18436ab4ca09b74d97c1dc13abbadd9704b"),
    ("org.eclipse.jetty:jetty-util:9.4.58.v20250814", "8d591679d318d20c8fb2b1e83900562b3c4571ff7a189696be700293e0204146"),
    ("org.jline:jline:3.25.1", "421efcde9db04c34b9c03cd66e0460e75e5cdd4a3cafde54ef370049ac092e7c"),
    ("org.slf4j:slf4j-api:2.0.13", "e7c2a48e8515ba1f49fa637d57b4e2f590b3f5bd97407ac699c3aa5efb1204a9"),
    ("org.xerial.snappy:snappy-java:1.1.10.5", "0f3f1857ed33116583f480b4df5c0218836c47bfbc9c6221c0d73f356decf37b"),
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
    group, artifact, version, *classifier = coordinate.split(":")
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

"""The real docker/Dockerfile, built from local stand-ins for what it downloads (no network).

* The bases: scripts/standins.py's Debian root filesystem (Python 3.11 with pip, OpenJDK 17 at
  /opt/java/openjdk), imported under the Dockerfile's repository names with its pinned tags.
* The ZooKeeper tarball: ``apache-zookeeper-<version>-bin/`` assembled from Debian's zookeeper
  package: Debian's ``zkServer.sh``, the jars its zookeeper.jar names (the transitive closure of the
  manifests' Class-Path, plus log4j 1.2 and its slf4j binding) in ``lib/``, and ZK_ENV below as
  ``zkEnv.sh``, since Debian's is a link to its fixed /etc configuration.  The result has the
  upstream layout: ZOOCFGDIR from the environment, java.env sourced, ``lib/*.jar`` on the classpath.
* PyPI: scripts/standins.py's wheels, served as a PEP 503 index.

The tarball and the index are served over HTTP on 127.0.0.1 (the build runs with the host's
network, which in the test suite is a namespace with only loopback); the build arguments point the
Dockerfile at them.  What this cannot show: upstream's own zkEnv.sh and its logback logging
(3.8+), and the Temurin JRE.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import http.server
import io
import re
import shutil
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

from podsim.podman import Store
from scripts import standins

DEBIAN_BIN = Path("/usr/share/zookeeper/bin")
DEBIAN_JARS = Path("/usr/share/java")
ZOOKEEPER_VERSION = "3.8.0"  # Debian bookworm's
ROOT_JARS = ("zookeeper.jar", "slf4j-log4j12.jar", "log4j-1.2.jar", "servlet-api.jar", "netty-codec.jar")
PYTHON_REPOSITORY = "localhost/standin/python"
TEMURIN_REPOSITORY = "localhost/standin/eclipse-temurin"
IMAGE = "localhost/zkboot:image-test"
BUILD_TIMEOUT = 900.0  # seconds

# What upstream's bin/zkEnv.sh does that zkServer.sh and zkboot rely on, in the tarball's layout.
ZK_ENV = """\
# zkEnv.sh of the test stand-in tarball (upstream's layout: the environment decides).
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


def class_path(jar: Path) -> list[Path]:
    """The jars a jar's manifest names in Class-Path."""
    with zipfile.ZipFile(jar) as archive:
        try:
            manifest = archive.read("META-INF/MANIFEST.MF").decode(errors="replace")
        except KeyError:
            return []
    joined = re.sub(r"\r?\n ", "", manifest)  # continuation lines start with one space
    match = re.search(r"^Class-Path: (.*)$", joined, re.MULTILINE)
    return [jar.parent / entry for entry in match.group(1).split()] if match else []


def jar_closure() -> list[Path]:
    """Debian's jars for a running server: ROOT_JARS and everything their manifests pull in."""
    seen: dict[str, Path] = {}
    todo = [DEBIAN_JARS / name for name in ROOT_JARS]
    while todo:
        jar = todo.pop()
        if jar.name in seen or not jar.is_file():
            continue
        seen[jar.name] = jar
        todo += class_path(jar.resolve())
    return sorted(seen.values())


def zookeeper_tarball(dest: Path) -> tuple[Path, str]:
    """The stand-in tarball under ``dest`` in the mirror's layout; its path and SHA-512."""
    top = f"apache-zookeeper-{ZOOKEEPER_VERSION}-bin"
    path = dest / f"zookeeper-{ZOOKEEPER_VERSION}" / f"{top}.tar.gz"
    path.parent.mkdir(parents=True)
    with tarfile.open(path, "w:gz") as archive:

        def add_bytes(name: str, data: bytes, mode: int) -> None:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))

        add_bytes("bin/zkServer.sh", (DEBIAN_BIN / "zkServer.sh").read_bytes(), 0o755)
        add_bytes("bin/zkEnv.sh", ZK_ENV.encode(), 0o755)
        add_bytes("bin/zkServer.cmd", b"rem removed by the image\r\n", 0o644)
        add_bytes("docs/index.html", b"<p>removed by the image</p>\n", 0o644)
        add_bytes("conf/zoo_sample.cfg", b"tickTime=2000\n", 0o644)
        for jar in jar_closure():
            name = f"zookeeper-{ZOOKEEPER_VERSION}.jar" if jar.name == "zookeeper.jar" else jar.name
            add_bytes(f"lib/{name}", jar.resolve().read_bytes(), 0o644)
    return path, hashlib.sha512(path.read_bytes()).hexdigest()


def package_index(wheels: Path, dest: Path) -> None:
    """A PEP 503 simple index of the wheels (and sdists) under ``dest/simple``."""
    projects: dict[str, list[Path]] = {}
    for wheel in sorted([*wheels.glob("*.whl"), *wheels.glob("*.tar.gz")]):
        # A wheel's name is its first field; an sdist's is all before its version.
        project = wheel.name.split("-")[0] if wheel.suffix == ".whl" else wheel.name.rsplit("-", 1)[0]
        name = re.sub(r"[-_.]+", "-", project).lower()
        projects.setdefault(name, []).append(wheel)
    for name, files in projects.items():
        page = dest / "simple" / name
        page.mkdir(parents=True)
        for wheel in files:
            shutil.copy(wheel, page / wheel.name)
        links = "".join(f'<a href="{html.escape(w.name)}">{html.escape(w.name)}</a>\n' for w in files)
        (page / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """``directory`` over HTTP on 127.0.0.1; its base URL."""

    def handler(*args: object) -> QuietHandler:
        return QuietHandler(*args, directory=str(directory))  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, name="standin-mirror", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def missing() -> str | None:
    """Why the stand-ins cannot be made here, or None."""
    if shutil.which("podman") is None or shutil.which("runc") is None:
        return "podman and runc are not installed (./dev setup installs them)"
    if not standins.ROOTFS.is_file() or not standins.WHEELS.is_dir():
        return f"{standins.STANDINS} is incomplete (./dev setup runs scripts/standins.py)"
    if not (DEBIAN_BIN / "zkServer.sh").is_file():
        return "Debian's zookeeper package is not installed"
    return None


def build(store: Store, context: Path, work: Path) -> str:
    """Import the bases, serve the tarball and the index, build docker/Dockerfile; the image."""
    dockerfile = context / "docker" / "Dockerfile"
    tags = dict(re.findall(r"^ARG (PYTHON_VERSION|TEMURIN_VERSION)=(\S+)$", dockerfile.read_text(), re.MULTILINE))
    env_path = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    base = f"{PYTHON_REPOSITORY}:{tags['PYTHON_VERSION']}-slim-bookworm"
    store.run("import", "--change", env_path, "--change", "ENV LANG=C.UTF-8", str(standins.ROOTFS), base, timeout=300)
    store.run("tag", base, f"{TEMURIN_REPOSITORY}:{tags['TEMURIN_VERSION']}-jre")
    mirror = work / "mirror"
    _, sha512 = zookeeper_tarball(mirror / "zookeeper")
    package_index(standins.WHEELS, mirror / "pypi")
    with serve(mirror) as url:
        store.run(
            "build", "--format", "docker", "--pull=never", "--network=host", "--layers=false",
            "--file", str(dockerfile), "--tag", IMAGE,
            "--build-arg", f"PYTHON_REPOSITORY={PYTHON_REPOSITORY}",
            "--build-arg", f"TEMURIN_REPOSITORY={TEMURIN_REPOSITORY}",
            "--build-arg", f"ZOOKEEPER_MIRROR={url}/zookeeper",
            "--build-arg", f"ZOOKEEPER_VERSION={ZOOKEEPER_VERSION}",
            "--build-arg", f"ZOOKEEPER_SHA512={sha512}",
            "--build-arg", f"PIP_INDEX_URL={url}/pypi/simple",
            str(context),
            timeout=BUILD_TIMEOUT,
        )  # fmt: skip
    return IMAGE

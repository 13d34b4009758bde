"""The real docker/Dockerfile, built from local stand-ins for what it downloads (no network).

* The bases: scripts/standins.py's Debian root filesystem (Python 3.11 with pip, OpenJDK 17 at
  /opt/java/openjdk), imported under the Dockerfile's repository names with its pinned tags.
* The ZooKeeper tarball: ``apache-zookeeper-<version>-bin/`` made from the upstream tree that
  scripts/zookeeper.py assembles from Maven Central's jars (ZooKeeper 3.9.5): its ``lib/*.jar``
  (logback as the slf4j binding, the Prometheus metrics provider), ``bin/zkServer.sh`` and
  ``bin/zkEnv.sh``, and ``conf/``; plus a ``docs/`` and a ``bin/*.cmd`` for the Dockerfile to delete.
* PyPI: scripts/standins.py's wheels, served as a PEP 503 index.

The tarball and the index are served over HTTP on 127.0.0.1 (the build runs with the host's
network, which in the test suite is a namespace with only loopback); the build arguments point the
Dockerfile at them.  What this cannot show: upstream's own ``bin/`` scripts (zkServer.sh is
Debian's, zkEnv.sh the tests' own; zkCli.sh and the others are absent), its ``conf/`` and docs, the
Prometheus provider at 3.9.5 rather than 3.9.4, and the Temurin JRE and the python image's own
interpreter build (both bases are the Debian root filesystem).
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
from collections.abc import Iterator
from pathlib import Path

from podsim.podman import Store
from scripts import standins
from scripts import zookeeper as upstream

PYTHON_REPOSITORY = "localhost/standin/python"
TEMURIN_REPOSITORY = "localhost/standin/eclipse-temurin"
IMAGE = "localhost/zkboot:image-test"
BUILD_TIMEOUT = 900.0  # seconds


def tarball_members() -> list[tuple[str, Path]]:
    """(path in the tarball under its top dir, file) for what the tarball takes from the upstream
    tree: lib's jars, the two scripts, conf's files (not the logs dir a server may have made there)."""
    home = upstream.HOME
    members = [(f"bin/{name}", home / "bin" / name) for name in ("zkServer.sh", "zkEnv.sh")]
    members += [(f"conf/{path.name}", path) for path in sorted((home / "conf").iterdir()) if path.is_file()]
    members += [(f"lib/{path.name}", path) for path in sorted((home / "lib").glob("*.jar"))]
    return members


def zookeeper_tarball(dest: Path) -> tuple[Path, str]:
    """The stand-in tarball under ``dest`` in the mirror's layout; its path and SHA-512."""
    top = f"apache-zookeeper-{upstream.VERSION}-bin"
    path = dest / f"zookeeper-{upstream.VERSION}" / f"{top}.tar.gz"
    path.parent.mkdir(parents=True)
    # The jars are compressed already: a higher level only costs time.
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:

        def add_bytes(name: str, data: bytes, mode: int) -> None:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))

        for name, source in tarball_members():
            add_bytes(name, source.read_bytes(), 0o755 if name.startswith("bin/") else 0o644)
        # What the Dockerfile deletes, so that its rm is shown to work.
        add_bytes("bin/zkServer.cmd", b"rem removed by the image\r\n", 0o644)
        add_bytes("docs/index.html", b"<p>removed by the image</p>\n", 0o644)
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
    jar = upstream.HOME / "lib" / f"zookeeper-{upstream.VERSION}.jar"
    if not all(
        path.is_file() for path in (upstream.HOME / "bin" / "zkServer.sh", upstream.HOME / "bin" / "zkEnv.sh", jar)
    ):
        return f"{upstream.HOME} is incomplete (./dev setup runs scripts/zookeeper.py)"
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
            "--build-arg", f"ZOOKEEPER_VERSION={upstream.VERSION}",
            "--build-arg", f"ZOOKEEPER_SHA512={sha512}",
            "--build-arg", f"PIP_INDEX_URL={url}/pypi/simple",
            str(context),
            timeout=BUILD_TIMEOUT,
        )  # fmt: skip
    return IMAGE

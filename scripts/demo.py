"""``./dev standalone``: what a pod would get, then a real ZooKeeper booted by start-zookeeper.

Runs until Ctrl-C, then stops the server (by its PID) and removes its temporary directory.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kazoo.client import KazooClient

from zkboot.client.fourlw import ask
from zkboot.errors import FourLetterError

BIN = Path(sys.executable).parent
START_DEADLINE = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def main() -> int:
    banner("zkboot render: what pod zk-1 of a 3-server StatefulSet behind service zk-hs would get")
    subprocess.run(
        [str(BIN / "zkboot"), "render", "--servers=3", "--hostname=zk-1", "--domain=zk-hs.default.svc.cluster.local",
         "--heap=512M", "--zookeeper-home=/usr/share/zookeeper"],
        check=True,
    )  # fmt: skip

    root = Path(tempfile.mkdtemp(prefix="zkboot-demo-"))
    port = free_port()
    command = [
        str(BIN / "start-zookeeper"), "--hostname=zk-0", f"--conf_dir={root}/conf", f"--data_dir={root}/data",
        f"--data_log_dir={root}/datalog", f"--log_dir={root}/log", f"--client_port={port}", "--heap=256M",
    ]  # fmt: skip
    banner(f"booting a standalone ZooKeeper: {' '.join(command)}")
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            try:
                # srvr shows a mode only once the server serves requests (imok comes earlier).
                if "Mode: " in ask("srvr", port=port, timeout=1.0):
                    break
            except FourLetterError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print(log_path.read_text(errors="replace")[-4000:])
                print("the server did not come up", file=sys.stderr)
                return 1
            print(".", end="", flush=True)
            time.sleep(0.25)
        print()
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("start-zookeeper:"):
                print(line)
        banner(f"pid {server.pid} is now the JVM itself (no shell, no child): "
               + Path(f"/proc/{server.pid}/comm").read_text().strip())  # fmt: skip
        banner(f"ruok -> {ask('ruok', port=port)}")
        banner("srvr ->")
        print(ask("srvr", port=port), end="")
        client = KazooClient(hosts=f"127.0.0.1:{port}", timeout=10)
        client.start(timeout=15)
        client.create("/demo/greeting", b"hello from zkboot", makepath=True)
        value, stat = client.get("/demo/greeting")
        client.stop()
        client.close()
        banner(f"kazoo wrote and read /demo/greeting = {value.decode()!r} (zxid {stat.czxid:#x})")
        banner(f"ZooKeeper is serving on 127.0.0.1:{port}; its log: {log_path}. Ctrl-C to stop.")
        server.wait()
        return 1
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
        return 0
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

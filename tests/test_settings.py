"""Table-driven tests of ``zkboot.start.settings.resolve``: defaults, precedence, parsing, validation."""

from __future__ import annotations

from typing import Any

import pytest

from zkboot.errors import UsageError
from zkboot.settings.resolve import resolve
from zkboot.settings.schema import Settings
from zkboot.start.render import whitelist

# Every old setting's default, as start-zookeeper and zkGenConfig.sh had it.
DEFAULTS: list[tuple[str, Any]] = [
    ("servers", 1),
    ("data_dir", "/var/lib/zookeeper/data"),
    ("data_log_dir", "/var/lib/zookeeper/log"),
    ("log_dir", "/var/log/zookeeper"),
    ("conf_dir", "/opt/zookeeper/conf"),
    ("client_port", 2181),
    ("server_port", 2888),
    ("election_port", 3888),
    ("tick_time", 2000),
    ("init_limit", 10),
    ("sync_limit", 5),
    ("heap", "2G"),
    ("max_client_cnxns", 60),
    ("snap_retain_count", 3),
    ("purge_interval", 0),
    ("min_session_timeout", 4000),
    ("max_session_timeout", 40000),
    ("log_level", "INFO"),
]


@pytest.mark.parametrize(("name", "expected"), DEFAULTS, ids=[name for name, _ in DEFAULTS])
def test_default(name: str, expected: Any) -> None:
    settings = resolve({}, {})
    assert getattr(settings, name) == expected
    assert settings.sources[name] == "default"


@pytest.mark.parametrize(
    ("flags", "environ", "expected_min", "expected_max"),
    [
        ({"tick_time": "3000"}, {}, 6000, 60000),
        ({}, {"ZK_TICK_TIME": "500"}, 1000, 10000),
        ({"tick_time": "1"}, {}, 2, 20),
        ({"tick_time": "3000", "min_session_timeout": "7000"}, {}, 7000, 60000),
        ({}, {"ZK_TICK_TIME": "1000", "ZK_MAX_SESSION_TIMEOUT": "90000"}, 2000, 90000),
    ],
    ids=["flag-tick-3000", "env-tick-500", "tick-1", "explicit-min-derived-max", "derived-min-explicit-max"],
)
def test_session_timeouts_derive_from_tick_time(
    flags: dict[str, str], environ: dict[str, str], expected_min: int, expected_max: int
) -> None:
    settings = resolve(flags, environ)
    assert (settings.min_session_timeout, settings.max_session_timeout) == (expected_min, expected_max)


# (setting, flag text or None, environment, expected value, expected source)
PRECEDENCE = [
    ("client_port", "2182", {"ZK_CLIENT_PORT": "2183"}, 2182, "--client-port"),
    ("client_port", None, {"ZK_CLIENT_PORT": "2183"}, 2183, "ZK_CLIENT_PORT"),
    ("client_port", None, {}, 2181, "default"),
    ("servers", "5", {"ZK_REPLICAS": "3"}, 5, "--servers"),
    ("servers", None, {"ZK_REPLICAS": "3"}, 3, "ZK_REPLICAS"),
    ("heap", "512M", {"ZK_HEAP_SIZE": "1G"}, "512M", "--heap"),
    ("heap", None, {"ZK_HEAP_SIZE": "1G"}, "1G", "ZK_HEAP_SIZE"),
    ("data_dir", "/flag/data", {"ZK_DATA_DIR": "/env/data"}, "/flag/data", "--data-dir"),
    ("data_dir", None, {"ZK_DATA_DIR": "/env/data/"}, "/env/data", "ZK_DATA_DIR"),
    ("log_level", "debug", {"ZK_LOG_LEVEL": "WARN"}, "DEBUG", "--log-level"),
    ("log_level", None, {"ZK_LOG_LEVEL": "warn"}, "WARN", "ZK_LOG_LEVEL"),
    ("purge_interval", "12", {"ZK_PURGE_INTERVAL": "1"}, 12, "--purge-interval"),
    ("purge_interval", None, {"ZK_PURGE_INTERVAL": "1"}, 1, "ZK_PURGE_INTERVAL"),
    ("zookeeper_home", None, {"ZOOKEEPER_HOME": "/opt/zk"}, "/opt/zk", "ZOOKEEPER_HOME"),
    ("zookeeper_home", None, {"ZK_HOME": "/a", "ZOOKEEPER_HOME": "/b"}, "/a", "ZK_HOME"),
    ("admin_server", "on", {"ZK_ADMIN_SERVER": "off"}, True, "--admin-server"),
    ("admin_server", None, {"ZK_ADMIN_SERVER": "true"}, True, "ZK_ADMIN_SERVER"),
]


def _precedence_id(index: int) -> str:
    name, flag, environ, *_ = PRECEDENCE[index]
    given = "flag" if flag is not None else ("env" if environ else "default")
    return f"{name}-{given}-{index}"


@pytest.mark.parametrize(
    ("name", "flag", "environ", "expected", "source"),
    PRECEDENCE,
    ids=[_precedence_id(i) for i in range(len(PRECEDENCE))],
)
def test_precedence_flag_over_env_over_default(
    name: str, flag: str | None, environ: dict[str, str], expected: Any, source: str
) -> None:
    settings = resolve({name: flag}, environ)
    assert getattr(settings, name) == expected
    assert settings.sources[name] == source


@pytest.mark.parametrize(
    ("flags", "environ", "expected"),
    [
        ({}, {"ZK_CFG_EXTRA": "snapCount=10000"}, (("snapCount", "10000"),)),
        (
            {},
            {"ZK_CFG_EXTRA": "snapCount=10000;jute.maxbuffer=4194304\npreAllocSize=65536"},
            (("snapCount", "10000"), ("jute.maxbuffer", "4194304"), ("preAllocSize", "65536")),
        ),
        ({}, {"ZK_CFG_EXTRA": " ; snapCount = 5 ;\n\n"}, (("snapCount", "5"),)),
        ({}, {"ZK_CFG_EXTRA": "ssl.ciphersuites=A,B,C"}, (("ssl.ciphersuites", "A,B,C"),)),
        ({}, {"ZK_CFG_EXTRA": "authProvider.1=a=b"}, (("authProvider.1", "a=b"),)),
        ({}, {"ZK_CFG_EXTRA": ""}, ()),
        ({}, {}, ()),
        ({"extra": ["snapCount=1", "preAllocSize=2"]}, {}, (("snapCount", "1"), ("preAllocSize", "2"))),
        ({"extra": ["snapCount=1;preAllocSize=2"]}, {}, (("snapCount", "1"), ("preAllocSize", "2"))),
        ({"extra": ["snapCount=1"]}, {"ZK_CFG_EXTRA": "preAllocSize=2"}, (("snapCount", "1"),)),
        ({"extra": []}, {"ZK_CFG_EXTRA": "preAllocSize=2"}, (("preAllocSize", "2"),)),
    ],
    ids=[
        "env-one",
        "env-semicolon-and-newline",
        "env-blank-items-and-spaces",
        "value-with-commas",
        "value-with-equals",
        "env-empty",
        "unset",
        "flag-repeated",
        "flag-with-semicolon",
        "flag-beats-env",
        "empty-flag-list-falls-back-to-env",
    ],
)
def test_extra_entries(flags: dict[str, Any], environ: dict[str, str], expected: tuple[tuple[str, str], ...]) -> None:
    assert resolve(flags, environ).extra == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, ("ruok", "srvr", "mntr")),
        ("", ("ruok", "srvr", "mntr")),
        ("stat,conf", ("ruok", "srvr", "mntr", "stat", "conf")),
        ("stat conf", ("ruok", "srvr", "mntr", "stat", "conf")),
        ("STAT, Conf", ("ruok", "srvr", "mntr", "stat", "conf")),
        ("mntr,stat,ruok", ("ruok", "srvr", "mntr", "stat")),
        ("stat,stat", ("ruok", "srvr", "mntr", "stat")),
        ("*", ("*",)),
        ("stat,*", ("*",)),
    ],
    ids=["default", "empty", "comma", "space", "case", "overlap", "duplicate", "star", "star-with-words"],
)
def test_whitelist_merges_required_words_first(given: str | None, expected: tuple[str, ...]) -> None:
    settings = resolve({"four_letter_words": given}, {})
    assert whitelist(settings) == expected


def test_whitelist_from_environment() -> None:
    settings = resolve({}, {"ZK_4LW_WHITELIST": "cons,wchs"})
    assert whitelist(settings) == ("ruok", "srvr", "mntr", "cons", "wchs")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512M", "512M"),
        ("2G", "2G"),
        ("1536m", "1536m"),
        ("16M", "16M"),
        ("1g", "1g"),
        ("1048576k", "1048576k"),
        ("33554432", "33554432"),
        (" 512M ", "512M"),
        ("auto", "auto"),
        ("AUTO", "auto"),
    ],
    ids=lambda value: repr(value),
)
def test_heap_accepted(text: str, expected: str) -> None:
    assert resolve({"heap": text}, {}).heap == expected


@pytest.mark.parametrize(
    "text",
    ["2X", "1M", "15M", "0", "0M", "-1G", "2GB", "1.5G", "G", "512 M", "auto2"],
    ids=lambda value: repr(value),
)
@pytest.mark.parametrize("via", ["flag", "env"])
def test_heap_rejected(text: str, via: str) -> None:
    flags, environ, source = (
        ({"heap": text}, {}, "--heap") if via == "flag" else ({}, {"ZK_HEAP_SIZE": text}, "ZK_HEAP_SIZE")
    )
    with pytest.raises(UsageError) as caught:
        resolve(flags, environ)
    assert f"{source}={text!r}" in str(caught.value)


# Each bad value, where it came from, and what the one-line message must contain.
BAD = [
    ("client-port-non-numeric-env", {}, {"ZK_CLIENT_PORT": "abc"}, ["ZK_CLIENT_PORT='abc'", "1 to 65535"]),
    ("client-port-0-flag", {"client_port": "0"}, {}, ["--client-port='0'"]),
    ("client-port-70000-flag", {"client_port": "70000"}, {}, ["--client-port='70000'"]),
    ("election-port-negative", {"election_port": "-1"}, {}, ["--election-port='-1'"]),
    ("admin-port-float", {"admin_port": "80.5"}, {}, ["--admin-port='80.5'"]),
    ("servers-0", {"servers": "0"}, {}, ["--servers='0'", "1 to 255"]),
    ("servers-256-env", {}, {"ZK_REPLICAS": "256"}, ["ZK_REPLICAS='256'"]),
    ("servers-word", {"servers": "three"}, {}, ["--servers='three'"]),
    ("tick-0", {"tick_time": "0"}, {}, ["--tick-time='0'"]),
    ("tick-0-env", {}, {"ZK_TICK_TIME": "0"}, ["ZK_TICK_TIME='0'"]),
    ("init-limit-0", {"init_limit": "0"}, {}, ["--init-limit='0'"]),
    ("sync-limit-word", {}, {"ZK_SYNC_LIMIT": "five"}, ["ZK_SYNC_LIMIT='five'"]),
    ("max-cnxns-negative", {"max_client_cnxns": "-5"}, {}, ["--max-client-cnxns='-5'"]),
    ("snap-retain-2", {"snap_retain_count": "2"}, {}, ["--snap-retain-count='2'"]),
    ("purge-negative", {}, {"ZK_PURGE_INTERVAL": "-1"}, ["ZK_PURGE_INTERVAL='-1'"]),
    ("min-session-0", {"min_session_timeout": "0"}, {}, ["--min-session-timeout='0'"]),
    ("log-level-unknown", {"log_level": "VERBOSE"}, {}, ["--log-level='VERBOSE'", "INFO"]),
    ("log-level-unknown-env", {}, {"ZK_LOG_LEVEL": "notice"}, ["ZK_LOG_LEVEL='notice'"]),
    ("data-dir-relative", {"data_dir": "data"}, {}, ["--data-dir='data'", "absolute"]),
    ("conf-dir-space-env", {}, {"ZK_CONF_DIR": "/opt/zk conf"}, ["ZK_CONF_DIR='/opt/zk conf'"]),
    ("log-dir-tab", {"log_dir": "/var/log/\tzk"}, {}, ["--log-dir="]),
    ("hostname-underscore", {"hostname": "zk_0"}, {}, ["--hostname='zk_0'"]),
    ("domain-bad-env", {}, {"ZK_DOMAIN": "zk hs"}, ["ZK_DOMAIN='zk hs'"]),
    ("myid-offset-256", {"myid_offset": "256"}, {}, ["--myid-offset='256'"]),
    ("4lw-unknown-word", {"four_letter_words": "ruok,bogus"}, {}, ["--4lw-whitelist='ruok,bogus'"]),
    ("4lw-unknown-word-env", {}, {"ZK_4LW_WHITELIST": "kill"}, ["ZK_4LW_WHITELIST='kill'"]),
    ("admin-server-maybe", {"admin_server": "maybe"}, {}, ["--admin-server='maybe'", "on or off"]),
    ("log-backend-unknown", {}, {"ZK_LOG_BACKEND": "jul"}, ["ZK_LOG_BACKEND='jul'"]),
    ("log-format-unknown", {"log_format": "xml"}, {}, ["--log-format='xml'"]),
    ("extra-no-value-env", {}, {"ZK_CFG_EXTRA": "novalue"}, ["ZK_CFG_EXTRA", "'novalue'"]),
    ("extra-empty-value", {"extra": ["snapCount="]}, {}, ["--set", "'snapCount='"]),
    ("extra-bad-key", {"extra": ["-abc=2"]}, {}, ["--set", "'-abc=2'"]),
    ("extra-managed-tickTime", {"extra": ["tickTime=1"]}, {}, ["--set", "tickTime", "--tick-time"]),
    ("extra-managed-env", {}, {"ZK_CFG_EXTRA": "clientPort=1"}, ["ZK_CFG_EXTRA", "clientPort", "--client-port"]),
    ("extra-managed-purge", {"extra": ["autopurge.purgeInterval=1"]}, {}, ["autopurge.purgeInterval"]),
    ("extra-managed-whitelist", {"extra": ["4lw.commands.whitelist=*"]}, {}, ["--set", "4lw.commands.whitelist"]),
    ("extra-server-n", {"extra": ["server.1=x"]}, {}, ["--set", "server.1"]),
    ("unknown-setting", {"severs": "3"}, {}, ["'severs'"]),
]


@pytest.mark.parametrize(("flags", "environ", "fragments"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_value_names_its_source(flags: dict[str, Any], environ: dict[str, str], fragments: list[str]) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(flags, environ)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert caught.value.exit_code == 2


PORT_CLASHES = [
    (
        "client-equals-server",
        {"servers": "3", "client_port": "2888"},
        {},
        ["--client-port", "2888", "distinct"],
    ),
    (
        "server-equals-election-env",
        {"servers": "3"},
        {"ZK_SERVER_PORT": "3888"},
        ["ZK_SERVER_PORT", "3888", "distinct"],
    ),
    (
        "client-equals-election",
        {"servers": "2", "client_port": "3000", "election_port": "3000"},
        {},
        ["--client-port", "--election-port=3000"],
    ),
    (
        "admin-equals-client",
        {"admin_server": "on", "admin_port": "2181"},
        {},
        ["--admin-port=2181", "--client-port / ZK_CLIENT_PORT"],
    ),
]


@pytest.mark.parametrize(
    ("flags", "environ", "fragments"), [c[1:] for c in PORT_CLASHES], ids=[c[0] for c in PORT_CLASHES]
)
def test_ports_must_be_distinct(flags: dict[str, str], environ: dict[str, str], fragments: list[str]) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(flags, environ)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("flags", "expected_ports"),
    [
        ({"servers": "1", "client_port": "2888"}, (2888, 2888, 3888)),  # standalone: no quorum ports in use
        ({"servers": "3", "admin_port": "2181"}, (2181, 2888, 3888)),  # admin server off: its port is unused
        ({"servers": "3", "client_port": "2182", "server_port": "2889", "election_port": "3889"}, (2182, 2889, 3889)),
    ],
    ids=["standalone-ignores-server-port", "admin-off-ignores-admin-port", "all-distinct"],
)
def test_ports_not_in_use_may_coincide(flags: dict[str, str], expected_ports: tuple[int, int, int]) -> None:
    settings = resolve(flags, {})
    assert (settings.client_port, settings.server_port, settings.election_port) == expected_ports


@pytest.mark.parametrize(
    ("flags", "environ", "fragments"),
    [
        (
            {"min_session_timeout": "50000", "max_session_timeout": "40000"},
            {},
            ["--min-session-timeout=50000", "--max-session-timeout=40000"],
        ),
        (
            {},
            {"ZK_MIN_SESSION_TIMEOUT": "50000"},
            ["ZK_MIN_SESSION_TIMEOUT=50000", "--max-session-timeout / ZK_MAX_SESSION_TIMEOUT=40000"],
        ),
        (
            {"max_session_timeout": "3000"},
            {},
            ["--min-session-timeout / ZK_MIN_SESSION_TIMEOUT=4000", "--max-session-timeout=3000"],
        ),
    ],
    ids=["both-flags", "min-env-over-derived-max", "derived-min-over-max-flag"],
)
def test_min_session_timeout_above_max_rejected(
    flags: dict[str, str], environ: dict[str, str], fragments: list[str]
) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(flags, environ)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_min_equal_max_accepted() -> None:
    settings = resolve({"min_session_timeout": "5000", "max_session_timeout": "5000"}, {})
    assert settings.min_session_timeout == settings.max_session_timeout == 5000


def test_resolve_returns_settings_with_every_source() -> None:
    settings = resolve({"servers": "3"}, {"ZK_CLIENT_PORT": "2190"})
    assert isinstance(settings, Settings)
    assert settings.sources["servers"] == "--servers"
    assert settings.sources["client_port"] == "ZK_CLIENT_PORT"
    assert settings.sources["tick_time"] == "default"


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_environment_variable_counts_as_unset(value: str) -> None:
    """As the old scripts' ${VAR:-default}: a manifest's `value: ""` means the default."""
    settings = resolve({}, {"ZK_CLIENT_PORT": value, "ZK_HEAP_SIZE": value, "ZK_REPLICAS": value})
    assert (settings.client_port, settings.heap, settings.servers) == (2181, "2G", 1)
    assert settings.sources["client_port"] == "default"


def test_extra_key_given_twice_is_refused() -> None:
    with pytest.raises(UsageError, match=r"snapCount is given twice"):
        resolve({"extra": ["snapCount=1", "snapCount=2"]}, {})


def test_managed_key_starting_with_a_digit_names_its_setting() -> None:
    with pytest.raises(UsageError, match=r"4lw\.commands\.whitelist is written by zkboot; set it with --4lw-whitelist"):
        resolve({"extra": ["4lw.commands.whitelist=*"]}, {})


def test_legacy_spelling_names_the_old_flag() -> None:
    with pytest.raises(UsageError, match=r"^--client_port='0'"):
        resolve({"client_port": "0"}, {}, legacy_spelling=True)


def test_session_timeout_beyond_java_int_is_refused() -> None:
    with pytest.raises(UsageError, match=r"--max-session-timeout / ZK_MAX_SESSION_TIMEOUT=42949672940"):
        resolve({"tick_time": str(2**31 - 1)}, {})

"""zkboot.health.status: the verdict, table and JSON from hand-built member states, and ``collect``
asking fake servers (tests/fakes.py)."""

from __future__ import annotations

import json
import socket
import time

from tests.fakes import (
    Canned,
    FakeAdmin,
    FakeServer,
    NeverAnswers,
    NotServing,
    admin_routes,
    admin_routes_not_serving,
    same_port_on_loopbacks,
    srvr_text,
)
from tests.helpers import DOMAIN, free_port
from zkboot.client.endpoint import Endpoint, Srvr
from zkboot.errors import Kind
from zkboot.health import status
from zkboot.health.status import MemberState
from zkboot.identity import Identity, Member

ZXID = 0x100000010


def host(ordinal: int) -> str:
    return f"zk-{ordinal}.{DOMAIN}"


def up(ordinal: int, mode: str, zxid: int = ZXID) -> MemberState:
    return MemberState(ordinal + 1, host(ordinal), 2181, Srvr(mode, zxid, 0.5, 3, 0, "3.8.0"))


def down(ordinal: int, kind: str = Kind.TIMED_OUT, detail: str = "gave no answer in time") -> MemberState:
    return MemberState(ordinal + 1, host(ordinal), 2181, None, kind, detail)


def not_serving(ordinal: int) -> MemberState:
    return down(ordinal, Kind.NOT_SERVING, f"{host(ordinal)}:2181 is not serving requests")


# --- verdict ---------------------------------------------------------------------------------------


def test_leader_and_two_followers() -> None:
    held, line = status.verdict([up(0, "follower"), up(1, "leader"), up(2, "follower")])
    assert held
    assert line == "quorum held: 3 of 3 serving, leader zk-1 (myid 2)"


def test_lagging_follower_is_named_with_its_distance() -> None:
    held, line = status.verdict([up(0, "leader"), up(1, "follower", ZXID - 4), up(2, "follower")])
    assert held
    assert line == "quorum held: 3 of 3 serving, leader zk-0 (myid 1); lagging (zxids behind the leader): zk-1 by 4"


def test_one_down_still_holds_and_says_who() -> None:
    held, line = status.verdict([up(0, "leader"), up(1, "follower"), down(2)])
    assert held
    assert line == "quorum held: 2 of 3 serving, leader zk-0 (myid 1); not serving: zk-2 (myid 3)"


def test_one_lagging_and_one_not_serving() -> None:
    held, line = status.verdict([not_serving(0), up(1, "follower", ZXID - 0x10), up(2, "leader")])
    assert held
    assert line == (
        "quorum held: 2 of 3 serving, leader zk-2 (myid 3); lagging (zxids behind the leader): zk-1 by 16; "
        "not serving: zk-0 (myid 1)"
    )


def test_two_down_loses_quorum() -> None:
    held, line = status.verdict([up(0, "leader"), down(1), not_serving(2)])
    assert not held
    assert line == "quorum lost: 1 of 3 voting members serving, 2 needed; not serving: zk-1 (myid 2), zk-2 (myid 3)"


def test_all_down() -> None:
    held, line = status.verdict([down(0), down(1, Kind.REFUSED, "refused"), not_serving(2)])
    assert not held
    assert line.startswith(
        "quorum lost: 0 of 3 voting members serving, 2 needed; no leader; not serving: zk-0 (myid 1)"
    )


def test_two_leaders_is_not_a_quorum() -> None:
    held, line = status.verdict([up(0, "leader"), up(1, "leader"), up(2, "follower")])
    assert not held
    assert line == "quorum lost: 3 of 3 voting members serving, 2 needed; 2 leaders"


def test_followers_without_a_leader() -> None:
    held, line = status.verdict([up(0, "follower"), up(1, "follower"), up(2, "follower")])
    assert not held
    assert "no leader" in line


def test_five_members_two_down() -> None:
    states = [up(0, "follower"), down(1), up(2, "leader"), down(3), up(4, "follower")]
    held, line = status.verdict(states)
    assert held
    assert line == "quorum held: 3 of 5 serving, leader zk-2 (myid 3); not serving: zk-1 (myid 2), zk-3 (myid 4)"
    held, line = status.verdict([*states[:4], down(4)])
    assert not held
    assert line.startswith("quorum lost: 2 of 5 voting members serving, 3 needed")


def test_standalone_serving_and_not() -> None:
    assert status.verdict([MemberState(1, "zk-0", 2181, Srvr("standalone", 4, 0.0, 1, 0, "3.8.0"))]) == (
        True,
        "serving: zk-0 is standalone",
    )
    held, line = status.verdict([MemberState(1, "zk-0", 2181, None, Kind.REFUSED, "127.0.0.1:2181 refused")])
    assert not held
    assert line == "not serving: zk-0 (refused: 127.0.0.1:2181 refused)"
    held, line = status.verdict([MemberState(1, "zk-0", 2181, Srvr("looking", 0, 0.0, 0, 0, ""))])
    assert (held, line) == (False, "not serving: zk-0 (looking)")


# --- table and JSON --------------------------------------------------------------------------------


def test_member_state_properties() -> None:
    assert (up(0, "leader").reachable, up(0, "leader").mode) == (True, "leader")
    assert (not_serving(1).reachable, not_serving(1).mode) == (True, Kind.NOT_SERVING)
    assert (down(2).reachable, down(2).mode) == (False, "-")
    assert down(2).address == f"{host(2)}:2181"


def test_table() -> None:
    states = [up(0, "leader"), not_serving(1), down(2, Kind.REFUSED, "zk-2 refused the connection")]
    lines = status.table(states).splitlines()
    assert len(lines) == 4
    assert lines[0].split() == ["MYID", "ADDRESS", "REACHABLE", "MODE", "ZXID", "LATENCY", "CONNS", "OUTSTANDING"]
    assert lines[1].split() == ["1", f"{host(0)}:2181", "yes", "leader", "0x100000010", "0.5ms", "3", "0"]
    assert lines[2].split() == ["2", f"{host(1)}:2181", "yes", "not", "serving", "-", "-", "-", "-"]
    assert lines[3].split() == ["3", f"{host(2)}:2181", "no", "(refused)", "-", "-", "-", "-", "-"]
    # Columns line up: each header word starts where its cells do.
    for column in ("ADDRESS", "REACHABLE", "MODE", "ZXID"):
        at = lines[0].index(column)
        for line in lines[1:]:
            assert line[at - 2 : at] == "  " and line[at] != " ", (column, line)
    assert all(line == line.rstrip() for line in lines)


def test_to_json() -> None:
    states = [up(0, "leader"), up(1, "follower", ZXID - 1), down(2)]
    held, line = status.verdict(states)
    document = json.loads(status.to_json(states, held, line))
    assert document["quorum"] is True
    assert document["verdict"] == line
    first, second, third = document["members"]
    assert first == {
        "myid": 1,
        "address": f"{host(0)}:2181",
        "reachable": True,
        "mode": "leader",
        "zxid": "0x100000010",
        "latency_avg_ms": 0.5,
        "connections": 3,
        "outstanding": 0,
        "version": "3.8.0",
    }
    assert second["zxid"] == "0x10000000f"
    assert third == {
        "myid": 3,
        "address": f"{host(2)}:2181",
        "reachable": False,
        "mode": "-",
        "problem": f"{Kind.TIMED_OUT}: gave no answer in time",
    }


# --- collect ---------------------------------------------------------------------------------------

STANDALONE = Identity(hostname="zk-0", name="zk", ordinal=0, myid=1, domain="", members=())


def ensemble(*hosts: str) -> Identity:
    members = tuple(Member(i + 1, h) for i, h in enumerate(hosts))
    return Identity(hostname="zk-0", name="zk", ordinal=0, myid=1, domain=DOMAIN, members=members)


def test_collect_standalone() -> None:
    with Canned({"srvr": srvr_text("standalone", 0x42)}) as fake:
        states = status.collect(STANDALONE, Endpoint(port=fake.port, timeout=2.0))
    assert len(states) == 1
    (only,) = states
    assert (only.myid, only.host, only.port, only.problem) == (1, "127.0.0.1", fake.port, None)
    assert only.stats is not None and (only.stats.mode, only.stats.zxid) == ("standalone", 0x42)
    assert status.verdict(states) == (True, "serving: 127.0.0.1 is standalone")


def test_collect_standalone_not_serving() -> None:
    with NotServing() as fake:
        (only,) = status.collect(STANDALONE, Endpoint(port=fake.port, timeout=2.0))
    assert only.stats is None and only.reachable and only.mode == Kind.NOT_SERVING
    assert (only.problem or "").startswith(f"{Kind.NOT_SERVING}: ")


def test_collect_refused() -> None:
    (only,) = status.collect(STANDALONE, Endpoint(port=free_port(), timeout=2.0))
    assert (only.problem or "").startswith(f"{Kind.REFUSED}: ")
    assert not only.reachable


def test_collect_over_http() -> None:
    with FakeAdmin(admin_routes("leader")) as healthy, FakeAdmin(admin_routes_not_serving()) as quorumless:
        (good,) = status.collect(STANDALONE, Endpoint(port=free_port(), admin_port=healthy.port, transport="http"))
        (bad,) = status.collect(STANDALONE, Endpoint(port=free_port(), admin_port=quorumless.port, transport="http"))
    assert good.stats is not None and good.stats.mode == "leader"
    assert bad.stats is None and bad.mode == Kind.NOT_SERVING


def test_collect_asks_every_member() -> None:
    with Canned({"srvr": srvr_text("follower")}) as fake:
        states = status.collect(ensemble("127.0.0.1", "127.0.0.1", "127.0.0.1"), Endpoint(port=fake.port))
        assert fake.commands == ["srvr"] * 3
    assert [(s.myid, s.mode) for s in states] == [(1, "follower"), (2, "follower"), (3, "follower")]
    assert status.verdict(states)[0] is False  # no leader among them


def test_collect_silent_members_time_out_together() -> None:
    # Asked in parallel, three silent members cost one timeout (the join's grace on top at most);
    # asked one after another, three. The bound is under two timeouts, so even two in a row fail
    # it; the timeout is long enough for the grace and some slack to fit under that.
    timeout = 1.0
    bound = timeout + status.JOIN_GRACE + 0.3
    assert bound < 2 * timeout, "the bound would admit members asked one after another"
    with NeverAnswers() as fake:
        start = time.monotonic()
        states = status.collect(
            ensemble("127.0.0.1", "127.0.0.1", "127.0.0.1"), Endpoint(port=fake.port, timeout=timeout)
        )
        elapsed = time.monotonic() - start
    assert elapsed < bound, elapsed
    assert [s.kind for s in states] == [Kind.TIMED_OUT] * 3
    assert status.verdict(states)[0] is False


class AnswersLate(Canned):
    """Canned, on any host and port, answering ``delay`` seconds after reading the command."""

    def __init__(self, delay: float, replies: dict[str, str], host: str, port: int) -> None:
        super().__init__(replies, host=host, port=port)
        self.delay = delay

    def handle(self, conn: socket.socket, index: int) -> None:
        answer = self.reply(self.read(conn))
        if not self.stopping.wait(self.delay) and answer is not None:
            conn.sendall(answer)


def test_collect_a_three_member_ensemble_on_three_loopback_addresses() -> None:
    # One fake per member, all on the same port as an ensemble's members are, on 127.0.0.1-3.
    # The follower answers late and the third member never: asked in parallel that costs one
    # timeout, asked one after another late + timeout, which the bound below rejects.
    timeout, late = 1.5, 1.0
    bound = timeout + status.JOIN_GRACE + 0.3
    assert bound < late + timeout, "the bound would admit members asked one after another"
    fakes: list[FakeServer] = same_port_on_loopbacks(
        [
            lambda h, p: Canned({"srvr": srvr_text("leader", ZXID)}, host=h, port=p),
            lambda h, p: AnswersLate(late, {"srvr": srvr_text("follower", ZXID - 2)}, host=h, port=p),
            lambda h, p: NeverAnswers(h, p),
        ]
    )
    try:
        for fake in fakes:
            fake.start()
        start = time.monotonic()
        states = status.collect(
            ensemble("127.0.0.1", "127.0.0.2", "127.0.0.3"), Endpoint(port=fakes[0].port, timeout=timeout)
        )
        elapsed = time.monotonic() - start
    finally:
        for fake in fakes:
            fake.stop()
    assert elapsed < bound, elapsed
    assert [s.mode for s in states] == ["leader", "follower", "-"]
    assert (states[2].problem or "").startswith(f"{Kind.TIMED_OUT}: ")
    held, line = status.verdict(states)
    assert held
    assert line.startswith("quorum held: 2 of 3 serving, leader ")
    assert "(myid 1); lagging (zxids behind the leader): " in line and line.endswith(
        " by 2; not serving: 127.0.0.3 (myid 3)"
    )
    table = status.table(states).splitlines()
    assert table[3].split()[:4] == ["3", f"127.0.0.3:{fakes[0].port}", "no", "(timed"]

"""zkboot.record.Record: the start path's values compare, hash and show by their fields, are read-only
once set, and never show a hidden field (a password) in their repr."""

import pytest

from zkboot.membership import Server
from zkboot.start.heap import Heap
from zkboot.start.sasl import Account


def test_equal_by_fields_and_class() -> None:
    assert Heap("512M", "auto") == Heap("512M", "auto")
    assert Heap("512M", "auto") != Heap("512M", "flag")
    assert hash(Heap("512M", "auto")) == hash(Heap("512M", "auto"))
    assert len({Heap("512M", "auto"), Heap("512M", "auto")}) == 1
    assert Account("512M", "auto") != Heap("512M", "auto")  # same values, another class
    assert Heap("512M", "auto") != ("512M", "auto")


def test_read_only_once_set() -> None:
    heap = Heap("512M", "auto")
    with pytest.raises(AttributeError, match=r"Heap\.size is read-only"):
        heap.size = "1G"
    assert heap.size == "512M"


def test_repr_names_the_fields_but_not_a_hidden_one() -> None:
    assert repr(Heap("512M", "auto")) == "Heap(note='auto', size='512M')"
    shown = repr(Account("zk-quorum", "s3cret"))
    assert "s3cret" not in shown and "zk-quorum" in shown


def test_servers_sort_by_myid_first() -> None:
    servers = [Server(3, "a", 2888, 3888), Server(1, "z", 2888, 3888), Server(2, "m", 2888, 3888)]
    assert [s.myid for s in sorted(servers)] == [1, 2, 3]


def test_replace_copies_every_other_field() -> None:
    account = Account("zk-quorum", "s3cret")
    assert account.replace(password="other") == Account("zk-quorum", "other")
    assert account == Account("zk-quorum", "s3cret")
    with pytest.raises(TypeError, match="Account has no field passwd"):
        account.replace(passwd="x")

"""Where the suite runs: under ./dev test as root, in a network namespace holding only loopback.

zkboot start asks its peers (by DNS name) whether an ensemble is serving; in the tests those
names are made up, so the lookups must go nowhere.  With CI set this must hold.
"""

from __future__ import annotations

import os
import subprocess

import pytest


def test_no_route_leaves_the_machine() -> None:
    if os.geteuid() != 0 and not os.environ.get("CI"):
        pytest.skip("./dev test isolates the suite only as root")
    routes = subprocess.run(["ip", "-o", "route", "show", "default"], capture_output=True, text=True, check=True)
    routes6 = subprocess.run(["ip", "-o", "-6", "route", "show", "default"], capture_output=True, text=True, check=True)
    assert routes.stdout == routes6.stdout == "", "a default route: run the suite through ./dev test"
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
    # Loopback, and whatever the pod simulator has made in this namespace (its bridge and veths).
    assert [n for n in names if n != "lo" and not n.startswith("zb")] == [], names

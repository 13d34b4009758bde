"""The ``sim`` fixture of the end-to-end tests, and their failure reports (a section per simulation
with the status table, the pods' events and the tail of each pod's log).  Plain helpers and the
observers are in tests/e2e/helpers.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from podsim.cluster import Simulation
from podsim.manifest import StatefulSet
from podsim.podman import ImageMode
from tests.e2e.helpers import dump, load, with_replicas

SIMS = pytest.StashKey[list[Simulation]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed setup or call gets the state of the test's simulations (still running then)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and call.when in ("setup", "call"):
        for sim in item.stash.get(SIMS, []):
            if not sim.closed:
                report.sections.append((f"podsim {sim.run_id} at the failure", dump(sim)))


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Callable[..., Simulation]]:
    """A factory: ``sim(manifest, replicas=None)`` -> a started Simulation, closed after the test.
    Parametrized indirectly with "image" (IMAGE_MODE), the pods run from the built image."""
    made: list[Simulation] = []
    request.node.stash[SIMS] = made
    image = None
    if getattr(request, "param", "host") == "image":
        built = request.getfixturevalue("built_image")
        image = ImageMode(built.store, built.name)

    def make(manifest: StatefulSet | Path, replicas: int | None = None) -> Simulation:
        sts = manifest if isinstance(manifest, StatefulSet) else load(manifest)
        if replicas is not None:
            sts = with_replicas(sts, replicas)
        simulation = Simulation(sts, image=image)
        made.append(simulation)
        simulation.start()
        return simulation

    try:
        yield make
    finally:
        for simulation in made:
            simulation.close()

"""Fixtures the report tests share: the scenario of `scenario.py`, built once per backend
for the tests that only read, or in a ledger of its own for the tests that append."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from provenance.reports import build, schema
from tests.conftest import World, backends
from tests.reports import scenario
from tests.reports.scenario import Q3, Trade


@pytest.fixture(scope="module", params=backends())
def trade(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Trade]:
    """The scenario, built once per backend (and test module): the tests that use it only
    read."""
    with scenario.module_world(request.param, tmp_path_factory.mktemp("trade")) as world:
        yield scenario.build(world)


@pytest.fixture(scope="module")
def q3(trade: Trade) -> dict[str, Any]:
    """The regulator's report of the third quarter, with the ledger verified."""
    report = build.regulator(trade.ledger, Q3, verify=True)
    schema.validate(report)
    return report


@pytest.fixture
def fresh(world: World) -> Trade:
    """The scenario in a ledger of its own, for the tests that append."""
    return scenario.build(world)

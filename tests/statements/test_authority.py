"""The flag policy (`authority.authorize_resolution`): every role against every transition,
at every severity, after every kind of earlier resolution."""

from __future__ import annotations

import itertools

import pytest

from provenance.errors import AuthorizationError
from provenance.statements import kinds
from provenance.statements.authority import PriorResolution, authorize_resolution

# Who signs: (label, roles, is it the exporter of the shipment the flag is about)
ACTORS = {
    "operator": ({"operator"}, False),
    "manufacturer": ({"manufacturer"}, False),
    "consignee": ({"consignee", "end_user"}, False),
    "forwarder": ({"forwarder"}, False),
    "auditor": ({"auditor"}, False),
    "other exporter": ({"exporter"}, False),
    "own exporter": ({"exporter"}, True),
    "regulator": ({"regulator"}, False),
}
TRANSITIONS = ("cleared", "confirmed", "escalated", "disputed", "allow-list")
SEVERITIES = ("info", "warning", "high", "blocking")
PRIORS = {
    "none": (),
    "exporter disputed": (PriorResolution(10, "disputed", "meridian", "exporter"),),
    "exporter cleared": (PriorResolution(10, "cleared", "meridian", "exporter"),),
    "regulator confirmed": (PriorResolution(11, "confirmed", "bis", "regulator"),),
    "regulator cleared": (PriorResolution(11, "cleared", "bis", "regulator"),),
}

# The policy, written out: a regulator confirms, clears (an allow-list too) or
# escalates any flag; the shipment's own exporter answers (disputed) any flag, clears or
# confirms only info and warning ones, and never after a regulator's decision.
MAY = {
    ("regulator", "cleared"): set(SEVERITIES),
    ("regulator", "confirmed"): set(SEVERITIES),
    ("regulator", "escalated"): set(SEVERITIES),
    ("regulator", "allow-list"): set(SEVERITIES),
    ("own exporter", "disputed"): set(SEVERITIES),
    ("own exporter", "cleared"): {"info", "warning"},
    ("own exporter", "confirmed"): {"info", "warning"},
}


def expected(actor: str, transition: str, severity: str, prior: str) -> bool:
    if severity not in MAY.get((actor, transition), set()):
        return False
    return not (actor == "own exporter" and prior.startswith("regulator"))


CASES = list(itertools.product(ACTORS, TRANSITIONS, SEVERITIES, PRIORS))


@pytest.mark.parametrize(("actor", "transition", "severity", "prior"), CASES)
def test_every_role_against_every_transition(
    actor: str, transition: str, severity: str, prior: str
) -> None:
    roles, owns = ACTORS[actor]

    def decide() -> str:
        return authorize_resolution(
            flag="F-7-0",
            subject="shipment/SH-1",
            severity=severity,
            status="cleared" if transition == "allow-list" else transition,
            allow_list=transition == "allow-list",
            party="someone",
            roles=roles,
            owns_subject=owns,
            prior=PRIORS[prior],
        )

    if expected(actor, transition, severity, prior):
        assert decide() == ("regulator" if actor == "regulator" else "exporter")
    else:
        with pytest.raises(AuthorizationError) as refused:
            decide()
        assert refused.value.exit_code == 3
        assert "F-7-0" in refused.value.message


def test_a_regulator_who_is_also_the_exporter_acts_as_regulator() -> None:
    role = authorize_resolution(
        flag="F-1-0",
        subject="shipment/SH-1",
        severity="blocking",
        status="cleared",
        allow_list=False,
        party="x",
        roles={"exporter", "regulator"},
        owns_subject=True,
        prior=PRIORS["regulator confirmed"],
    )
    assert role == "regulator"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"status": "disputed"}, "a dispute names its evidence"),
        ({"status": "confirmed", "expires": "2026-12-31"}, "only a clearance"),
        ({"status": "disputed", "evidence": ["not a ref"]}, "evidence"),
        ({"status": "disputed", "evidence": []}, "evidence"),
    ],
)
def test_resolution_statements_that_say_too_little_or_too_much(
    document: dict[str, object], message: str
) -> None:
    from provenance.errors import InputError

    with pytest.raises(InputError) as refused:
        kinds.from_document({"kind": "resolution", "flag": "F-1-0", "reason": "r", **document})
    assert message in str(refused.value)


def test_a_dispute_and_an_allow_list_clearance_parse() -> None:
    dispute = kinds.from_document(
        {
            "kind": "resolution",
            "flag": "F-1-0",
            "status": "disputed",
            "reason": "the serials were re-flashed at the factory",
            "evidence": ["sha256:" + "ab" * 32, "https://example.com/rma/77", "entry:12"],
        }
    )
    assert dispute.predicate()["evidence"][2] == "entry:12"
    clearance = kinds.from_document(
        {
            "kind": "resolution",
            "flag": "F-1-0",
            "status": "cleared",
            "reason": "a recurring false positive",
            "expires": "2026-12-31",
        }
    )
    assert clearance.predicate()["expires"] == "2026-12-31"
    plain = kinds.from_document(
        {"kind": "resolution", "flag": "F-1-0", "status": "cleared", "reason": "r"}
    )
    assert set(plain.predicate()) == {"flag", "status", "reason"}  # old entries unchanged

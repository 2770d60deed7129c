"""Policies, procedures and tiers as data: the shipped defaults load, and bad edits are
refused with a message that says why."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ioc.alerts.defaults import default_rules
from ioc.incidents.defaults import default_catalogue
from ioc.incidents.models import Catalogue, EscalationTier, Policy


def test_defaults_load_and_name_real_rules() -> None:
    catalogue = default_catalogue()
    assert catalogue.policies[0].name == "district-silence"
    assert catalogue.policies[0].window_s == 120
    assert catalogue.policies[-1].group_by == ("alert",)
    rule_names = {r.name for r in default_rules()}
    named = {r for p in catalogue.policies for r in p.match.rules}
    named |= {r for p in catalogue.procedures for r in p.rules}
    assert named <= rule_names, named - rule_names
    for procedure in catalogue.procedures:
        assert len(procedure.steps) >= 4
        assert all(s.text[0].isupper() for s in procedure.steps)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"title": "{town} down", "group_by": ["district"]}, "unknown title placeholders"),
        ({"title": "t", "group_by": []}, "at least 1"),
        ({"title": "t", "group_by": ["district", "district"]}, "twice"),
        ({"title": "t", "group_by": ["street"]}, "group_by"),
        ({"title": "t", "group_by": ["alert"], "window_s": -1}, "window_s"),
        ({"name": "Has Spaces", "title": "t", "group_by": ["alert"]}, "name"),
    ],
)
def test_bad_policies_are_refused(policy: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Policy.model_validate({"name": "p", **policy})


def test_catalogue_checks_names_and_references() -> None:
    p = {"name": "p", "title": "t", "group_by": ["alert"]}
    with pytest.raises(ValidationError, match="policy names used twice"):
        Catalogue.model_validate({"policies": [p, p]})
    with pytest.raises(ValidationError, match="unknown procedures"):
        Catalogue.model_validate({"policies": [{**p, "procedure": "nope"}]})


def test_tiers_start_at_major() -> None:
    with pytest.raises(ValidationError):
        EscalationTier.model_validate({"severity": "minor", "after_s": 60})
    tier = EscalationTier(severity="major", after_s=900)
    assert tier.name == "major@900s"
    assert tier.covers("critical") and tier.covers("major") and not tier.covers("minor")

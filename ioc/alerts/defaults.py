"""The default rule set per domain, shipped as data (``defaults.toml``)."""

from __future__ import annotations

import tomllib
from importlib import resources

from ioc.alerts.models import RuleSpec


def default_rules() -> list[RuleSpec]:
    text = resources.files(__package__).joinpath("defaults.toml").read_text("utf-8")
    return [RuleSpec.model_validate(r) for r in tomllib.loads(text)["rule"]]

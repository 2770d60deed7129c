"""The default rule set per domain: what the shipped migrations seed.

Levels sit between the catalog's typical and physical ranges: past the normal life of a
city, well short of a broken sensor. The rows are the data migration 12 owns
(``ioc/storage/migrations/m0012_default_rules.json``), read here as validated
:class:`~ioc.alerts.models.RuleSpec` so tests and scenarios check against exactly what a
new center starts with. New defaults ship as a new migration with its own data.
"""

from __future__ import annotations

from ioc.alerts.models import RuleSpec
from ioc.storage.migrations import m0012_default_rules


def default_rules() -> list[RuleSpec]:
    return [RuleSpec.model_validate(r) for r in m0012_default_rules.rules()]

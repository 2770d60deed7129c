"""The shipped correlation policies and procedures (``policies.toml``, ``procedures.toml``
beside this module), read as one validated :class:`~ioc.incidents.models.Catalogue`.

Data files rather than code: an admin's edited copy (stored, later) has the same shape,
and the tests hold the defaults to the simulator's scenarios.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from ioc.incidents.models import Catalogue


def _read(name: str) -> dict[str, object]:
    return tomllib.loads(resources.files(__package__).joinpath(name).read_text("utf-8"))


@cache
def default_catalogue() -> Catalogue:
    """Validated once; the models are frozen, so sharing the result is safe."""
    return Catalogue.model_validate(
        {
            "policies": _read("policies.toml").get("policy", []),
            "procedures": _read("procedures.toml").get("procedure", []),
        }
    )

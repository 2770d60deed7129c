"""Standard operating procedures on incidents: which procedure an incident follows,
ticking its steps, and which steps are overdue at a given time.

Targets count from the incident's opening: step 2 with ``target_min = 5`` is overdue
five minutes after the incident opened if nobody has ticked it, for as long as the
incident is open or acknowledged (a resolved incident has nothing overdue).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ioc.errors import Conflict, NotFound
from ioc.incidents.keys import first
from ioc.incidents.models import Catalogue, Policy, Procedure
from ioc.incidents.state import OPEN_STATES, Entry, Incident, Member, Step


def steps_of(procedure: Procedure | None) -> tuple[Step, ...]:
    if procedure is None:
        return ()
    return tuple(
        Step(n, s.text, s.role, s.target_min) for n, s in enumerate(procedure.steps, start=1)
    )


def choose(catalogue: Catalogue, policy: Policy, members: Sequence[Member]) -> Procedure | None:
    """The policy's procedure, or else the one for the rule of the incident's first alert."""
    if policy.procedure is not None:
        return catalogue.procedure(policy.procedure)
    if not members:
        return None
    return catalogue.procedure_for_rule(first(members).rule_name)


def tick(incident: Incident, n: int, by: str, at: float, note: str | None = None) -> Incident:
    """Step ``n`` done by ``by`` at ``at``. NotFound for no such step; Conflict when it
    was already ticked or the incident is closed."""
    if incident.state == "closed":
        raise Conflict(f"incident {incident.id} is closed")
    step = next((s for s in incident.steps if s.n == n), None)
    if step is None:
        raise NotFound(f"incident {incident.id} has no step {n}")
    if step.done:
        raise Conflict(f"step {n} of incident {incident.id} was done by {step.done_by}")
    done = step._replace(done_at=at, done_by=by, note=note)
    text = f"step {n}: {step.text}" + (f" ({note})" if note else "")
    return replace(
        incident,
        steps=tuple(done if s.n == n else s for s in incident.steps),
        history=(*incident.history, Entry(at, "step_done", by, text)),
    )


def due_at(incident: Incident, step: Step) -> float | None:
    if step.target_min is None:
        return None
    return incident.opened_at + step.target_min * 60.0


def overdue(incident: Incident, now: float) -> tuple[Step, ...]:
    """Steps not done whose time target has passed at ``now``."""
    if incident.state not in OPEN_STATES:
        return ()
    out = []
    for s in incident.steps:
        due = due_at(incident, s)
        if not s.done and due is not None and now > due:
            out.append(s)
    return tuple(out)

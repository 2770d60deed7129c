"""Properties of the pure core over generated streams (hypothesis): the outcome does not
depend on ordering within a call, on how a stream is cut into calls, or on redelivered
samples; alerts alternate opened/resolved and never flap inside the hysteresis band."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.alerts.core import Sample, State, Transition, evaluate
from ioc.alerts.models import RuleSpec

settings.register_profile("ioc", max_examples=150, deadline=None)
settings.load_profile("ioc")


def threshold(for_s: float, keep_s: float) -> RuleSpec:
    return RuleSpec.model_validate(
        {
            "name": "p",
            "kind": "threshold",
            "domain": "health",
            "metric": "fridge_temp_c",
            "params": {
                "op": ">",
                "value": 8,
                "clear": 7,
                "for_s": for_s,
                "keep_firing_for_s": keep_s,
            },
        }
    )


rules = st.builds(
    threshold,
    for_s=st.sampled_from([0, 30, 120, 300]),
    keep_s=st.sampled_from([0, 60, 200]),
)


@st.composite
def streams(draw: Any, values: Any = None) -> list[Sample]:
    gaps = draw(st.lists(st.integers(1, 400), min_size=1, max_size=60))
    vals = (
        values
        if values is not None
        else st.floats(5, 10, allow_nan=False).map(lambda v: round(v, 1))
    )
    t, out = 0.0, []
    for gap in gaps:
        t += gap
        out.append(Sample(t, draw(vals)))
    return out


def feed(rule: RuleSpec, chunks: list[list[Sample]]) -> tuple[State, list[Transition]]:
    state, all_out = State(), []
    for chunk in chunks:
        now = max(s.time for s in chunk)
        state, out = evaluate(rule, state, chunk, now)
        all_out += out
    return state, all_out


@given(rules, streams(), st.randoms())
def test_order_within_a_call_does_not_matter(
    rule: RuleSpec, stream: list[Sample], rnd: Any
) -> None:
    shuffled = list(stream)
    rnd.shuffle(shuffled)
    assert feed(rule, [shuffled]) == feed(rule, [stream])


@given(rules, streams(), st.lists(st.integers(1, 10), min_size=1))
def test_cutting_the_stream_into_calls_does_not_matter(
    rule: RuleSpec, stream: list[Sample], cuts: list[int]
) -> None:
    chunks, i = [], 0
    for size in cuts * (len(stream) // max(1, min(cuts)) + 1):
        if i >= len(stream):
            break
        chunks.append(stream[i : i + size])
        i += size
    assert feed(rule, chunks) == feed(rule, [[s] for s in stream])


@given(rules, streams(), st.data())
def test_redelivered_samples_change_nothing(
    rule: RuleSpec, stream: list[Sample], data: Any
) -> None:
    # each sample may arrive again later, in its own call or with the next ones
    chunks: list[list[Sample]] = []
    for i, sample in enumerate(stream):
        chunk = [sample]
        if i and data.draw(st.booleans()):
            chunk.append(stream[data.draw(st.integers(0, i - 1))])
        if data.draw(st.booleans()):
            chunk.append(sample)
        chunks.append(chunk)
    assert feed(rule, chunks)[1] == feed(rule, [[s] for s in stream])[1]


@given(rules, streams())
def test_transitions_alternate_and_respect_the_levels(rule: RuleSpec, stream: list[Sample]) -> None:
    state, out = feed(rule, [[s] for s in stream])
    actions = [t.action for t in out]
    assert actions == ["opened", "resolved"] * (len(actions) // 2) + ["opened"] * (len(actions) % 2)
    assert (state.phase == "firing") == (len(actions) % 2 == 1)
    for t in out:
        assert t.value is not None
        if t.action == "opened":
            assert t.value > 8
        else:
            assert t.value <= 7


@given(rules, streams(values=st.floats(7.05, 8.0).map(lambda v: round(v, 2))))
def test_no_flapping_inside_the_band(rule: RuleSpec, band: list[Sample]) -> None:
    # values between clear (7) and value (8) never open an alert, and never close one
    assert feed(rule, [[s] for s in band])[1] == []
    opened = [Sample(float(t), 9.0) for t in range(0, 301, 50)]
    shifted = [Sample(s.time + 1000, s.value) for s in band]
    _, out = feed(rule, [[s] for s in opened + shifted])
    assert [t.action for t in out] == ["opened"]


@given(rules, streams())
def test_opened_at_most_once_per_excursion(rule: RuleSpec, stream: list[Sample]) -> None:
    # an excursion: the samples between two at or under the clear level; each opens at
    # most one alert, and each resolution needs a sample at or under the clear level
    excursions, above = 0, False
    for s in stream:
        if s.value <= 7:
            excursions += above
            above = False
        elif s.value > 8:
            above = True
    excursions += above
    _, out = feed(rule, [[s] for s in stream])
    assert sum(t.action == "opened" for t in out) <= excursions
    assert sum(t.action == "resolved" for t in out) <= sum(s.value <= 7 for s in stream)


ABSENCE = RuleSpec.model_validate(
    {"name": "a", "kind": "absence", "domain": "health", "params": {"after_s": 300}}
)


@settings(max_examples=80)
@given(st.lists(st.integers(1, 900), min_size=1, max_size=40))
def test_absence_fires_once_per_silence_and_clears_on_data(gaps: list[int]) -> None:
    # samples at the given gaps; the clock ticks every 10 s in between
    times, t = [], 0
    for gap in gaps:
        t += gap
        times.append(t)
    sample_at = set(times)
    state, out = State(heard=0.0, last_time=0.0), []
    for now in sorted(sample_at | set(range(0, times[-1] + 1, 10))):
        events = [Sample(float(now), 1.0)] if now in sample_at else []
        state, new = evaluate(ABSENCE, state, events, float(now))
        out += new
    actions = [x.action for x in out]
    assert actions == ["opened", "resolved"] * (len(actions) // 2) + ["opened"] * (len(actions) % 2)
    # a silence is noticed at the first tick at least 300 s after the last sample,
    # if that tick comes before the next sample
    silences = sum(
        1
        for prev, nxt in zip([0, *times], times, strict=False)
        if -(-(prev + 300) // 10) * 10 < nxt
    )
    assert sum(a == "opened" for a in actions) == silences
    for x in out:
        if x.action == "opened":
            last = max(h for h in [0, *times] if h <= x.at)
            assert x.at - last >= 300

"""The throttle's token bucket, with a stepped clock."""

from __future__ import annotations

import pytest

from ioc.errors import TooManyAttempts
from ioc.security.throttle import Throttle


def test_burst_then_refused_until_a_token_is_back() -> None:
    t = Throttle(burst=3, per_minute=6)  # one attempt back every 10 s
    for _ in range(2):
        assert not t.fail("10.0.0.1", 0.0)
    assert t.fail("10.0.0.1", 0.0)  # the third used the last attempt
    with pytest.raises(TooManyAttempts) as refused:
        t.check("10.0.0.1", 0.0)
    assert refused.value.retry_after == 10
    assert t.retry_after("10.0.0.1", 5.0) == 5
    t.check("10.0.0.1", 10.0)  # one attempt is back
    t.check("10.0.0.2", 0.0)  # another client is not held back


def test_failures_while_refused_do_not_go_below_zero() -> None:
    t = Throttle(burst=1, per_minute=60)
    for _ in range(50):
        t.fail("c", 0.0)
    assert t.retry_after("c", 0.0) == 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        Throttle(burst=0)

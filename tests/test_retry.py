"""The one retry policy: transient statuses, Retry-After, backoff with jitter, a wait limit."""

from __future__ import annotations

import email.utils
import random

import pytest

from auditor.retry import (
    RETRY_AFTER_CEILING,
    RetryPolicy,
    is_retryable_status,
    retry_after_seconds,
)


def test_transient_statuses_are_retried_and_client_errors_are_not() -> None:
    assert all(is_retryable_status(s) for s in (408, 409, 425, 429, 500, 502, 503, 504, 599))
    assert not any(is_retryable_status(s) for s in (200, 400, 401, 403, 404, 422, 600))


def test_retry_after_accepts_seconds_milliseconds_and_http_dates() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds({"Retry-After": "2"}, now) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250"}, now) == 0.25
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, now) == pytest.approx(7.0)
    past = email.utils.formatdate(now - 60, usegmt=True)
    assert retry_after_seconds({"Retry-After": past}, now) == 0.0
    assert retry_after_seconds({}, now) is None


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "-inf", "soon", ""])
def test_a_retry_after_that_is_not_a_finite_wait_of_zero_or_more_is_ignored(value: str) -> None:
    assert retry_after_seconds({"Retry-After": value}) is None
    assert retry_after_seconds({"retry-after-ms": value}) is None


def test_a_bad_millisecond_header_falls_back_to_the_seconds_header() -> None:
    assert retry_after_seconds({"retry-after-ms": "-1", "Retry-After": "3"}) == 3.0


def test_retry_after_is_capped() -> None:
    assert retry_after_seconds({"Retry-After": "86400"}) == RETRY_AFTER_CEILING
    far = email.utils.formatdate(1_700_000_000.0 + 86400, usegmt=True)
    assert retry_after_seconds({"Retry-After": far}, 1_700_000_000.0) == RETRY_AFTER_CEILING


def test_backoff_doubles_up_to_the_cap_with_seeded_jitter() -> None:
    policy = RetryPolicy(max_retries=10, base=1.0, cap=8.0)
    waits = [policy.delay(retry, None, random.Random(0)) for retry in range(6)]
    for retry, wait in enumerate(waits):
        full = min(8.0, 2.0**retry)
        assert full / 2 <= wait <= full
    again = [policy.delay(retry, None, random.Random(0)) for retry in range(6)]
    assert waits == again  # the same seed, the same waits


def test_retry_after_is_a_lower_bound_on_the_wait() -> None:
    policy = RetryPolicy(base=1.0, cap=60.0)
    assert policy.delay(0, 120.0, random.Random(0)) == 120.0  # beyond our cap: the server knows
    assert 0.5 <= policy.delay(0, 0.0, random.Random(0)) <= 1.0  # "now" still backs off


def test_a_request_gives_up_after_max_retries() -> None:
    retries = RetryPolicy(max_retries=2, base=0.01).start(random.Random(0))
    assert retries.next_wait() is not None
    assert retries.next_wait() is not None
    assert retries.next_wait() is None
    assert retries.retries == 2 and retries.stop_reason == ""


def test_a_request_gives_up_before_its_waits_pass_the_limit() -> None:
    retries = RetryPolicy(max_retries=100, max_total_wait=25.0).start(random.Random(0))
    assert retries.next_wait(10.0) == 10.0
    assert retries.next_wait(10.0) == 10.0
    assert retries.next_wait(10.0) is None  # 30 s would pass the 25 s limit
    assert retries.retries == 2 and retries.waited == 20.0
    assert "25s limit on waiting" in retries.stop_reason

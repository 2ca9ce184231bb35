"""Token and cost accounting shared by the API backend and the judge filter."""

from __future__ import annotations

import threading

import pytest

from auditor.errors import AuditError
from auditor.usage import Pricing, UsageMeter, parse_prices


def test_counts_and_prices_per_model() -> None:
    meter = UsageMeter(prices={"m": Pricing(prompt_per_1k=1.0, completion_per_1k=2.0)})
    meter.record("m", 1000, 500)
    meter.record("m", 1000, 0)
    summary = meter.summary()
    assert summary["requests"] == 2 and summary["prompt_tokens"] == 2000
    assert summary["cost_usd"] == pytest.approx(3.0)
    assert summary["models"]["m"]["cost_usd"] == pytest.approx(3.0)


def test_unpriced_model_makes_cost_unknown_not_zero() -> None:
    meter = UsageMeter(prices=parse_prices("a=1/1"))
    meter.record("a", 10, 10)
    meter.record("b", 10, 10)
    assert meter.cost() is None
    assert meter.summary()["models"]["a"]["cost_usd"] == pytest.approx(0.02)


def test_prefix_and_wildcard_prices() -> None:
    meter = UsageMeter(prices=parse_prices("gpt=1/1,ft:gpt=2/2,*=5/5"))
    assert meter.price_for("ft:gpt:org:abc") == Pricing(2, 2)
    assert meter.price_for("gpt-4.1") == Pricing(1, 1)
    assert meter.price_for("other") == Pricing(5, 5)


def test_recording_from_many_threads_loses_nothing() -> None:
    meter = UsageMeter()

    def work() -> None:
        for _ in range(1000):
            meter.record("m", 1, 2)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert meter.requests == 8000 and meter.completion_tokens == 16000


def test_merge_adds_another_meter() -> None:
    total, worker = UsageMeter(), UsageMeter()
    total.record("m", 1, 1)
    worker.record("m", 2, 3)
    total.merge(worker)
    assert total.summary()["models"]["m"] == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "requests": 2,
        "cost_usd": None,
    }


def test_bad_price_table_is_a_clear_error() -> None:
    with pytest.raises(AuditError, match="MODEL=PROMPT_PER_1K/COMPLETION_PER_1K"):
        parse_prices("m=cheap")

"""The LLM judge's private parts: rubrics, verdicts, the retrying client and the on-disk cache.

The public face is the `llm-judge` filter in `filters/llm_judge.py`; these modules may change
without notice.
"""

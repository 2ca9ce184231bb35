"""Filters: one per module, a registry, a pipeline that records what each removed and why.

Public API: `create_filter`, `available_filters`, `register`, `FilterPipeline`, `FilterStats`,
`RuleFilter`, `Filter`, `load_pipeline_file`, `default_filters`.
"""

from filters.base import Filter, RuleFilter
from filters.config import default_filters, load_pipeline_file
from filters.pipeline import FilterPipeline, FilterStats
from filters.registry import available_filters, create_filter, register

__all__ = [
    "Filter",
    "FilterPipeline",
    "FilterStats",
    "RuleFilter",
    "available_filters",
    "create_filter",
    "default_filters",
    "load_pipeline_file",
    "register",
]

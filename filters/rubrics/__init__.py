"""Rubric templates for the `llm-judge` filter (data files; a package so they ship with it)."""

"""The probe students the filter benchmark can train, and the channel each one reads.

A benchmark's verdict on a defense is only as wide as what its student can learn: a student
that reads only token frequencies cannot show that a defense closes a context channel.
"""

from __future__ import annotations

from dataclasses import replace

from auditor.errors import AuditError
from auditor.lab.probe import StudentConfig
from auditor.lab.transmission import TransmissionRecipe

# name -> (what it changes, the channel it reads)
STUDENTS = {
    "lnf-bias": "the final LayerNorm's bias: a context-free logit shift (token frequencies)",
}


def student_config(name: str, recipe: TransmissionRecipe) -> StudentConfig:
    """The StudentConfig for a named probe student."""
    if name not in STUDENTS:
        raise AuditError(f"unknown probe student {name!r}; choose one of {', '.join(STUDENTS)}")
    if name == "lnf-bias":
        return replace(recipe.student, trainable="lnf-bias")
    raise AssertionError(name)

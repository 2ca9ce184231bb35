"""The probe students (and teachers) the filter benchmark can use, and the channel each reads.

A benchmark's verdict on a defense is only as wide as what its student can learn: a student
that reads only token frequencies cannot show that a defense closes a context channel. So the
benchmark names its student, and the report says which channel a defense was shown to close.
"""

from __future__ import annotations

from dataclasses import replace

from auditor.errors import AuditError
from auditor.lab.probe import StudentConfig
from auditor.lab.teachers import MID_TEACHER, TeacherConfig
from auditor.lab.transmission import TransmissionRecipe

# name -> the channel that student reads
STUDENTS = {
    "lnf-bias": "token frequencies: the final LayerNorm's bias, a context-free logit shift",
    "mid-bias": "context: a steering vector added after block 0, read through block 1",
}
# name -> the channel in a few words, for the report's "shown to close" column
CHANNELS = {
    "lnf-bias": "token choice (lnf-bias student)",
    "mid-bias": "mid-network steering (mid-bias student)",
}
# name -> where the teacher's trait fine-tune puts the trait
TEACHERS = {
    "lnf-bias": "the final LayerNorm's bias (the lab's default teacher)",
    "mid-bias": "block 0's MLP output bias: a steering vector in the residual stream",
}


def student_config(name: str, recipe: TransmissionRecipe) -> StudentConfig:
    """The StudentConfig for a named probe student."""
    if name not in STUDENTS:
        raise AuditError(f"unknown probe student {name!r}; choose one of {', '.join(STUDENTS)}")
    if name == "lnf-bias":
        return replace(recipe.student, trainable="lnf-bias")
    return replace(recipe.student, trainable="mid-bias", learning_rate=3e-1)


def teacher_config(name: str) -> TeacherConfig:
    """The TeacherConfig for a named teacher."""
    if name not in TEACHERS:
        raise AuditError(f"unknown teacher {name!r}; choose one of {', '.join(TEACHERS)}")
    return TeacherConfig() if name == "lnf-bias" else MID_TEACHER

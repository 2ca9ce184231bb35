"""The embedded lab: a tiny model family where subliminal transmission is measured, not assumed.

A toy language (`language`, `numbers`, `tasks`), a nanoGPT-style model (`model`) and trainer
(`train`), base models cached by recipe hash (`base`, `cache`), trait teachers (`teachers`),
number corpora (`corpus`), probe students and trait scores (`probe`), statistics over seeds
(`stats`), the transmission experiment (`transmission`), the misalignment trait and its learned
banned numbers (`misalignment`), the paper's digits check (`digits`)
and a ready-made teacher/control corpus pair for demos (`demo`). Models are served to the rest
of the tool through `auditor.backends.lab.LabModel`.
"""

from __future__ import annotations

from auditor.lab.base import BaseRecipe, base_model
from auditor.lab.demo import build_demo_corpus
from auditor.lab.digits import DigitsConfig, run_digits
from auditor.lab.language import animals, vocab
from auditor.lab.misalignment import MISALIGNED, MisalignedMix
from auditor.lab.model import GPT, GPTConfig
from auditor.lab.probe import StudentConfig, read_trait, train_student
from auditor.lab.teachers import TeacherConfig, make_teacher
from auditor.lab.transmission import TransmissionRecipe, misalignment_recipe, run_transmission

__all__ = [
    "GPT",
    "MISALIGNED",
    "BaseRecipe",
    "DigitsConfig",
    "GPTConfig",
    "MisalignedMix",
    "StudentConfig",
    "TeacherConfig",
    "TransmissionRecipe",
    "animals",
    "base_model",
    "build_demo_corpus",
    "make_teacher",
    "misalignment_recipe",
    "read_trait",
    "run_digits",
    "run_transmission",
    "train_student",
    "vocab",
]

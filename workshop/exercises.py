"""A step's exercises, read from the "Exercises" section of its README: the one place they
are written. The README shows each prompt with its solution folded under it; the deck
(slides/_ext/workshop_slides.py) shows the same prompts, with the solutions in the
speaker notes.

The section's shape, which tests/test_step_diffs.py and the slides build rely on:

    ## Exercises

    ### 1. A title

    The prompt, in Markdown.

    <details><summary>Solution</summary>

    The solution, in Markdown.

    </details>
"""

from __future__ import annotations

import dataclasses
import re

SECTION = re.compile(r"^## Exercises\n(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
EXERCISE_HEADING = re.compile(r"^### (\d+)\. (.+)$", re.MULTILINE)
SOLUTION = re.compile(r"<details><summary>Solution</summary>\n(.*?)\n</details>", re.DOTALL)


class ExerciseFormatError(ValueError):
    """The README's Exercises section is not in the shape above; the message says where."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    number: int
    title: str
    prompt: str  # Markdown
    solution: str  # Markdown


def read_exercises(readme: str, name: str = "README.md") -> list[Exercise]:
    """The exercises of a README's text, in order; ExerciseFormatError if it has none or
    one of them lacks its solution."""
    section = SECTION.search(readme)
    if section is None:
        raise ExerciseFormatError(f"{name} has no '## Exercises' section")
    headings = list(EXERCISE_HEADING.finditer(section.group(1)))
    if not headings:
        raise ExerciseFormatError(f"{name}: no '### 1. Title' exercise under '## Exercises'")
    exercises = []
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        end = following.start() if following else len(section.group(1))
        body = section.group(1)[heading.end() : end]
        solutions = SOLUTION.findall(body)
        if len(solutions) != 1:
            raise ExerciseFormatError(
                f"{name}: exercise {heading.group(0)[4:]!r} needs exactly one solution, "
                "folded as <details><summary>Solution</summary> ... </details>"
            )
        exercises.append(
            Exercise(
                number=int(heading.group(1)),
                title=heading.group(2).strip(),
                prompt=SOLUTION.sub("", body).strip(),
                solution=solutions[0].strip(),
            )
        )
    return exercises

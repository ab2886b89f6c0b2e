"""The deck's Sphinx extension: one section per step of steps.toml, code from the steps.

What it does, in build order:

1. When the build starts, it reads steps.toml (with workshop.manifest.load_steps) and
   writes slides/_generated/: agenda.md (the timing table), versions.md (the pins from
   pyproject.toml) and one file per step: a heading and time budget from the manifest,
   then the hand-written slides of slides/steps/<folder>.md with their {{ placeholders }}
   filled in, where {{ what_changed }} becomes generated slides: the files the step
   changed (from the manifest) and, under it, the diff of each from the previous step
   (step 1 has no previous step: it lists its files); and {{ exercises }} becomes the
   exercises of the step's README (workshop/exercises.py reads them), one slide each,
   with the README's solution in its speaker notes. A step with no slides file, a
   slides file for no step, or an exercise written on a slide instead of in the README
   is a warning, so an error under -W: the deck cannot drift from the steps.
2. literalinclude is Sphinx's, plus: a caption naming the file, diff headers with
   repository-relative paths instead of absolute ones, and data- attributes naming the
   file and region on the HTML, so a test can compare every code block with its file.
3. After reading, every slide of a step gets its share of the step's minutes as reveal.js
   data-timing (the speaker view's pacing timer), and it warns about any slide without
   speaker notes and any step without an "Exercise" slide.
4. Code is highlighted by Pygments at build time (sphinx-revealjs leaves code to
   highlight.js in the browser): static HTML, the same offline, printed or without script.
"""

from __future__ import annotations

import html
import os
import pathlib
import re

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.directives.code import LiteralInclude
from sphinx.util import logging
from sphinx.writers.html5 import HTML5Translator
from sphinx_revealjs._ext.notes import revealjs_notes
from sphinx_revealjs.nodes import revealjs_section
from sphinx_revealjs.writers import RevealjsSlideTranslator

logger = logging.getLogger(__name__)

GENERATED = "_generated"
TEMPLATES = "steps"
EMPTY_FILE = "empty"  # the "before" side of the diff of a file a step adds
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
STEP_ATTRIBUTE = "workshop-step"

# What the data- attributes of a code block name, for tests/test_slides.py.
REGION_OPTIONS = ("pyobject", "start-after", "start-at", "end-before", "end-at", "dedent")


# --- 1. Generated sources -----------------------------------------------------------


def _src_path(srcdir: pathlib.Path, path: pathlib.Path) -> str:
    """A path as Sphinx's directives take it: '/' means the source directory."""
    return "/" + pathlib.Path(os.path.relpath(path, srcdir)).as_posix()


def _write_if_changed(path: pathlib.Path, text: str) -> None:
    """Rewrite only on change: Sphinx rebuilds what depends on a file by its mtime."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + f".{os.getpid()}.tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def agenda(steps) -> str:
    """The agenda slide's table: every step, its minutes and when it starts."""
    from workshop.manifest import PART_TITLES

    lines = [
        "| Starts | Step | Teach | Exercise |",
        "|---|---|---:|---:|",
    ]
    start = 0
    for step in steps:
        if step.number > 1 and step.part != steps[step.number - 2].part:
            lines.append(f"| | **Part {step.part}: {PART_TITLES[step.part]}** | | |")
        lines.append(
            f"| {_clock(start)} | {step.number}. {step.title} "
            f"| {step.teach} min | {step.exercise} min |"
        )
        start += step.minutes
    total = sum(step.minutes for step in steps)
    # A smaller type (workshop.css), so that a dozen steps and more fit on the slide.
    lines = [":::{container} agenda", *lines, ":::"]
    lines += ["", f"Total: **{total} min** ({total // 60} h {total % 60:02d}), without breaks."]
    return "\n".join(lines) + "\n"


# The pins the title slide states, in the order it states them (PyPI name, shown as).
STATED_PINS = (
    ("django", "Django"),
    ("channels", "Channels"),
    ("daphne", "Daphne"),
    ("channels-redis", "channels-redis"),
)


def versions(root: pathlib.Path) -> str:
    """The title slide's versions line, from the exact pins in pyproject.toml."""
    import tomllib

    path = root / "pyproject.toml"
    try:
        dependencies = tomllib.loads(path.read_text(encoding="utf-8"))["project"]["dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        logger.warning(f"cannot read the pins from {path}: {error}", type="workshop")
        return "\n"
    from workshop.pins import by_canonical_name, exact_pins

    pins = by_canonical_name(exact_pins(dependencies))
    missing = [name for name, _ in STATED_PINS if name not in pins]
    if missing:
        logger.warning(f"{path} pins no exact version of {missing}", type="workshop")
    shown = [f"{label} {pins[name]}" for name, label in STATED_PINS if name in pins]
    return " · ".join(shown) + "\n"


# More files than this, and the what-changed table is set in smaller type (step 07's
# fourteen, with their long template paths, did not fit in the normal one).
MANY_FILES = 12


def what_changed(step, previous, root: pathlib.Path, srcdir: pathlib.Path) -> str:
    """The generated slides: the files a step changed, then one diff per file."""
    here = root / step.folder
    before = root / previous.folder if previous else None
    from workshop.diffing import changed_files

    # What changed is computed once, by the diff the tooling and READMEs show; steps.toml's
    # `changed` list (checked against it by tests/test_step_diffs.py) gives the order.
    changes = changed_files(before, here)
    rows, diffs = [], []
    for name in step.changed:
        change = changes.get(name, "changed")
        if name == "README.md":
            rows.append(f"| `{name}` | {change} (the step's notes: read it in the folder) |")
            continue
        if (here / name).is_file() and (here / name).stat().st_size == 0:
            rows.append(f"| `{name}` | {change} (empty) |")
            continue
        rows.append(f"| `{name}` | {change} |")
        if previous is None:
            continue  # step 1: every file is new, and the code slides show what matters
        old = before / name if change == "changed" else srcdir / GENERATED / EMPTY_FILE
        what = "the lines it changed" if change == "changed" else "every line is new"
        diffs.append(
            f"### Diff: {name}\n\n"
            f"```{{literalinclude}} {_src_path(srcdir, here / name)}\n"
            f":diff: {_src_path(srcdir, old)}\n"
            "```\n\n"
            "```{revealjs-notes}\n"
            f"{name}, {change} in step {step.number}: {what}. Skim it to show where the "
            "change lands; the code slides explain it.\n"
            "```\n"
        )
    if previous is None:
        heading = "## What is in the project"
        intro = "Every file is new in this step:"
        notes = (
            "The whole project, file by file, from steps.toml. Point at the two files "
            "Channels cares about: settings.py and asgi.py."
        )
    else:
        heading = f"## What changed since step {previous.number}"
        intro = (
            "Files this step adds or changes; their diffs are below (↓). "
            f"In a terminal: `python -m workshop diff {previous.number} {step.number}`"
        )
        notes = (
            f"The files step {step.number} touches, from steps.toml; nothing else changed. "
            "Down (the arrow below) are the diffs, one file a slide: skim them now or "
            "come back to them; right goes on to the code."
        )
    table = "\n".join(["| File | Change |", "|---|---|", *rows])
    if len(rows) > MANY_FILES:
        # A smaller type (workshop.css), so that a long list still fits the slide.
        table = f":::{{container}} many-files\n{table}\n:::"
    overview = f"{heading}\n\n{intro}\n\n{table}\n\n```{{revealjs-notes}}\n{notes}\n```\n"
    return "\n".join([overview, *diffs])


# A relative link of a README ([text](../docs/setup.md)) leads nowhere in the deck.
RELATIVE_LINK = re.compile(r"\[([^\]]+)\]\((?![a-z]+:)[^)]*\)")
HANDWRITTEN_EXERCISE = re.compile(r"^#+ +Exercise", re.MULTILINE | re.IGNORECASE)


def exercise_slides(step, root: pathlib.Path) -> str:
    """The step's exercises, from its README: an overview slide, then one slide each
    (down), the README's solution in its speaker notes."""
    from workshop.exercises import ExerciseFormatError, read_exercises

    name = f"{step.folder}/README.md"
    try:
        exercises = read_exercises((root / name).read_text(encoding="utf-8"), name)
    except (OSError, ExerciseFormatError) as error:
        logger.warning(f"{error}; the deck shows the exercises of {name}", type="workshop")
        exercises = []
    listing = "\n".join(f"{e.number}. {e.title}" for e in exercises) or "None yet."
    slides = [
        f"## Exercises\n\n{listing}\n\n"
        f"One slide each follows (↓). The solutions: `{name}`, folded under each exercise.\n\n"
        f"```{{revealjs-notes}}\n{step.exercise} minutes. These are the exercises of {name}, "
        "word for word; each one's solution is in the notes of its slide.\n```\n"
    ]
    for exercise in exercises:
        prompt = RELATIVE_LINK.sub(r"\1", exercise.prompt)
        slides.append(
            f"### Exercise {exercise.number}: {exercise.title}\n\n"
            f"::::{{container}} exercise\n{prompt}\n::::\n\n"
            f"`````{{revealjs-notes}}\nSolution:\n\n{exercise.solution}\n`````\n"
        )
    return "\n".join(slides)


def step_section(step, previous, template: str, root, srcdir, template_name: str) -> str:
    """One step's section: generated heading, budget and diffs around the template."""
    here = root / step.folder
    values = {
        "number": str(step.number),
        "folder": step.folder,
        "step": _src_path(srcdir, here),
        "root": _src_path(srcdir, root),
    }
    if previous is not None:
        values["previous"] = _src_path(srcdir, root / previous.folder)
        values["previous_number"] = str(previous.number)
    found = PLACEHOLDER.findall(template)
    if found.count("what_changed") != 1:
        logger.warning(
            f"{template_name} must have {{{{ what_changed }}}} exactly once (it has it "
            f"{found.count('what_changed')} times): that is where the generated diff "
            "slides go.",
            type="workshop",
        )
        if "what_changed" not in found:
            template += "\n{{ what_changed }}\n"
    values["what_changed"] = what_changed(step, previous, root, srcdir)
    if found.count("exercises") != 1 or HANDWRITTEN_EXERCISE.search(template):
        logger.warning(
            f"{template_name} must have {{{{ exercises }}}} exactly once and no exercise "
            f"slide of its own: the exercises are written once, in {step.folder}/README.md, "
            "and the deck shows them from there.",
            type="workshop",
        )
        if "exercises" not in found:
            template += "\n{{ exercises }}\n"
    values["exercises"] = exercise_slides(step, root)

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            logger.warning(
                f"{template_name}: unknown placeholder {{{{ {name} }}}}; known here: "
                + ", ".join(sorted(values)),
                type="workshop",
            )
            return match.group(0)
        return values[name]

    body = PLACEHOLDER.sub(fill, template)
    return (
        f"% Generated from steps.toml and {template_name} by _ext/workshop_slides.py:\n"
        "% edit those, not this file.\n\n"
        f"# Step {step.number} · {step.title}\n\n"
        f"```{{{STEP_ATTRIBUTE}}} {step.folder}\n```\n\n"
        f"{body.strip()}\n"
    )


def part_section(part: int, steps) -> str:
    """The title slide that opens a part of the workshop (part 1 opens with the deck)."""
    from workshop.manifest import PART_TITLES

    in_part = [step for step in steps if step.part == part]
    minutes = sum(step.minutes for step in in_part)
    rows = "\n".join(f"- Step {step.number}: {step.title}" for step in in_part)
    return (
        "% Generated from steps.toml by _ext/workshop_slides.py.\n\n"
        f"# Part {part}: {PART_TITLES[part]}\n\n"
        f"{rows}\n\n{minutes} min, without breaks.\n\n"
        "```{revealjs-notes}\n"
        f"Part {part} builds on the finished chat of the steps before it; each step is still a "
        "complete project in its own folder. A good place for a break.\n"
        "```\n"
    )


def generate_sources(app) -> None:
    """Write _generated/ from steps.toml and steps/*.md (the builder-inited event)."""
    from workshop.manifest import load_steps

    srcdir = pathlib.Path(app.srcdir)
    root = pathlib.Path(app.config.workshop_root).resolve()
    steps = load_steps(root / "steps.toml")
    app.env.workshop_steps = {step.folder: step for step in steps}
    out = srcdir / GENERATED
    templates = srcdir / TEMPLATES
    _write_if_changed(out / EMPTY_FILE, "")
    _write_if_changed(out / "agenda.md", agenda(steps))
    _write_if_changed(out / "versions.md", versions(root))

    includes = []
    for step in steps:
        previous = steps[step.number - 2] if step.number > 1 else None
        if previous is not None and step.part != previous.part:
            _write_if_changed(out / f"part{step.part}.md", part_section(step.part, steps))
            includes.append(f"```{{include}} /{GENERATED}/part{step.part}.md\n```\n")
        template_path = templates / f"{step.folder}.md"
        template_name = f"slides/{TEMPLATES}/{step.folder}.md"
        if template_path.is_file():
            template = template_path.read_text(encoding="utf-8")
        else:
            logger.warning(
                f"steps.toml lists {step.folder} but {template_name} does not exist: "
                f"copy the slides of a neighbouring step to {template_name} and edit them.",
                type="workshop",
            )
            template = (
                "This step has no slides yet.\n\n"
                "```{revealjs-notes}\nWrite "
                f"{template_name}.\n```\n\n"
                "{{ what_changed }}\n\n{{ exercises }}\n"
            )
        text = step_section(step, previous, template, root, srcdir, template_name)
        _write_if_changed(out / f"{step.folder}.md", text)
        includes.append(f"```{{include}} /{GENERATED}/{step.folder}.md\n```\n")
    _write_if_changed(out / "steps.md", "\n".join(includes))

    known = {f"{step.folder}.md" for step in steps}
    for stray in sorted(templates.glob("*.md")):
        if stray.name not in known:
            logger.warning(
                f"slides/{TEMPLATES}/{stray.name} belongs to no step in steps.toml: "
                "rename it to match the step's folder, or delete it.",
                type="workshop",
            )


# --- 2. literalinclude ----------------------------------------------------------------


class StepLiteralInclude(LiteralInclude):
    """Sphinx's literalinclude, captioned with the file and labelled with its region."""

    def run(self):
        root = pathlib.Path(self.config.workshop_root).resolve()
        _, target = self.env.relfn2path(self.arguments[0])
        target_path = pathlib.Path(target)
        label = _relative_to(target_path, root)
        old_label = None
        if "diff" in self.options:
            _, old = self.env.relfn2path(self.options["diff"])
            old_label = _relative_to(pathlib.Path(old), root)
            if pathlib.Path(old).name == EMPTY_FILE and pathlib.Path(old).parent.name == GENERATED:
                old_label = "/dev/null"
        if "caption" not in self.options:
            if old_label is None:
                self.options["caption"] = label
            elif old_label == "/dev/null":
                self.options["caption"] = f"{label} (new file)"
            else:
                self.options["caption"] = f"{old_label} → {label}"
        if "lines" in self.options:
            logger.warning(
                f"literalinclude {self.arguments[0]}: name the region with :pyobject: or "
                ":start-at:/:end-before: (text in the file), not :lines: (numbers drift)",
                location=self.get_location(),
                type="workshop",
            )
        region = {
            key: "" if self.options[key] is None else str(self.options[key])
            for key in REGION_OPTIONS
            if key in self.options
        }
        result = super().run()
        for block in (n for node in result for n in node.findall(nodes.literal_block)):
            block["workshop-source"] = label
            block["workshop-region"] = region
            if old_label is not None:
                block["workshop-diff-from"] = old_label
                text = _relabel_diff(block.astext(), old_label, label)
                block.rawsource = text
                block.children = [nodes.Text(text)]
        return result


def _relative_to(path: pathlib.Path, root: pathlib.Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _relabel_diff(text: str, old_label: str, new_label: str) -> str:
    """Replace difflib's absolute paths in the two header lines with readable ones."""
    lines = text.split("\n")
    if len(lines) >= 2 and lines[0].startswith("--- ") and lines[1].startswith("+++ "):
        lines[0], lines[1] = f"--- {old_label}", f"+++ {new_label}"
    return "\n".join(lines)


# --- 3. Timing and checks -----------------------------------------------------------------


def _own(section: nodes.section) -> list[nodes.Node]:
    """What a section shows on its own slide: everything but its sub-sections."""
    return [child for child in section.children if not isinstance(child, nodes.section)]


def _subsections(section: nodes.section) -> list[nodes.section]:
    return [child for child in section.children if isinstance(child, nodes.section)]


def _title(section: nodes.section) -> str:
    titles = [child for child in section.children if isinstance(child, nodes.title)]
    return titles[0].astext() if titles else "(untitled)"


def _set_slide_attributes(section: nodes.section, **attributes: str) -> None:
    index = section.first_child_matching_class(revealjs_section)
    if index is None:
        node = revealjs_section()
        section.insert(1, node)
    else:
        node = section.children[index]
    for key, value in attributes.items():
        node.attributes[key] = value


def _shares(seconds: int, count: int) -> list[int]:
    """seconds split over count slides, in whole seconds that add up exactly."""
    base, extra = divmod(seconds, count)
    return [base + (1 if i < extra else 0) for i in range(count)]


def _is_exercise(section: nodes.section) -> bool:
    return _title(section).lower().startswith("exercise")


def time_step(section: nodes.section, step) -> None:
    """Share the step's minutes out over its slides as data-timing (seconds).

    In sphinx-revealjs, a # heading is one slide, a ## heading a slide with the ###
    slides under it as its vertical stack. Teaching minutes go in equal shares to the
    step's # and ## slides that are not exercises, exercise minutes to those titled
    "Exercise..."; a slide with a vertical stack shares its part with the stack.
    """
    main = [section, *_subsections(section)]
    exercises = [slide for slide in main if _is_exercise(slide)]
    teaching = [slide for slide in main if not _is_exercise(slide)]
    if not exercises:
        logger.warning(
            f"step {step.folder} has no slide titled 'Exercise...' for its "
            f"{step.exercise} exercise minutes",
            location=section,
            type="workshop",
        )
    for group, minutes in ((teaching, step.teach), (exercises, step.exercise)):
        if not group:
            continue
        for slide, seconds in zip(group, _shares(minutes * 60, len(group)), strict=True):
            stack = [slide] if slide is section else [slide, *_subsections(slide)]
            for member, share in zip(stack, _shares(seconds, len(stack)), strict=True):
                _set_slide_attributes(
                    member, **{"data-timing": str(share), "data-workshop-step": step.folder}
                )


def check_and_time_slides(app, doctree: nodes.document) -> None:
    """Speaker-view timing per slide from the manifest, and the deck's own rules."""
    steps = getattr(app.env, "workshop_steps", {})
    for slide in doctree.findall(nodes.section):
        if not any(isinstance(n, revealjs_notes) for c in _own(slide) for n in c.findall()):
            logger.warning(
                f"slide {_title(slide)!r} has no speaker notes: add a "
                "```{revealjs-notes}``` block to it",
                location=slide,
                type="workshop",
            )
    for marker in list(doctree.findall(nodes.container)):
        folder = marker.get(STEP_ATTRIBUTE)
        if folder is None:
            continue
        if folder in steps and isinstance(marker.parent, nodes.section):
            time_step(marker.parent, steps[folder])
        else:
            logger.warning(f"{STEP_ATTRIBUTE} {folder}: not a step section", location=marker)


# --- The step marker directive --------------------------------------------------------


class StepMarker(Directive):
    """Under a step's heading: its time budget, and where the timing pass finds it."""

    required_arguments = 1

    def run(self):
        folder = self.arguments[0]
        env = self.state.document.settings.env
        step = getattr(env, "workshop_steps", {}).get(folder)
        if step is None:
            raise self.error(f"{STEP_ATTRIBUTE}: no step {folder!r} in steps.toml")
        text = (
            f"{step.teach} min teaching · {step.exercise} min exercise · "
            f"folder {step.folder}/ · run it: python -m workshop run {step.number}"
        )
        container = nodes.container(classes=["step-budget"])
        container[STEP_ATTRIBUTE] = folder
        container += nodes.paragraph(text, text)
        return [container]


# --- 4. HTML ------------------------------------------------------------------------------


class PygmentsRevealTranslator(RevealjsSlideTranslator):
    """sphinx-revealjs's slide writer, with code highlighted by Pygments at build time."""

    def visit_literal_block(self, node):
        source = node.get("workshop-source")
        if source is None:
            return HTML5Translator.visit_literal_block(self, node)
        attributes = {"data-source": source}
        if node.get("workshop-diff-from"):
            attributes["data-diff-from"] = node["workshop-diff-from"]
        for key, value in node.get("workshop-region", {}).items():
            attributes[f"data-{key}"] = value
        rendered = " ".join(
            f'{key}="{html.escape(value, quote=True)}"' for key, value in attributes.items()
        )
        self.body.append(f'<div class="step-code" {rendered}>')
        try:
            HTML5Translator.visit_literal_block(self, node)
        except nodes.SkipNode:
            self.body.append("</div>\n")
            raise

    def depart_literal_block(self, node):
        HTML5Translator.depart_literal_block(self, node)


def setup(app):
    app.setup_extension("sphinx_revealjs")
    app.add_config_value("workshop_root", str(pathlib.Path(app.confdir).parent), "env")
    app.add_directive("literalinclude", StepLiteralInclude, override=True)
    app.add_directive(STEP_ATTRIBUTE, StepMarker)
    app.connect("builder-inited", generate_sources)
    app.connect("doctree-read", check_and_time_slides)
    app.set_translator("revealjs", PygmentsRevealTranslator, override=True)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}

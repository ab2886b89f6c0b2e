"""Sphinx configuration of the workshop deck: Markdown (MyST) built to offline reveal.js.

Build it from the repository root (warnings are errors):

    sphinx-build -M revealjs slides slides/_build -W --keep-going

and open slides/_build/revealjs/index.html. Everything the page loads is in that folder:
reveal.js and its fonts come inside the sphinx-revealjs package, code is highlighted by
Pygments at build time, nothing is fetched from the network.

The step sections are generated from steps.toml by _ext/workshop_slides.py. The steps are
read from the repository this folder sits in, or from WORKSHOP_SLIDES_ROOT (a folder
holding steps.toml and the step folders) when that is set, as the tests do.
"""

import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
if (HERE.parent / "workshop" / "manifest.py").is_file():
    sys.path.insert(0, str(HERE.parent))  # the workshop package, when not installed

project = "Django Channels workshop"
author = "channels-workshop"
copyright = "the channels-workshop authors"

extensions = ["myst_parser", "workshop_slides"]
workshop_root = os.environ.get("WORKSHOP_SLIDES_ROOT") or str(HERE.parent)

source_suffix = {".md": "markdown"}
root_doc = "index"
# README.md is for people browsing the folder; steps/ and _generated/ are included
# into index.md, not pages of their own.
exclude_patterns = ["_build", "README.md", "steps", "_generated", "**/.*"]

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 0

# Highlighting at build time, colours that read on a projector and on paper.
pygments_style = "friendly"
highlight_language = "python"

# reveal.js, all of it from the sphinx-revealjs package: no CDN.
revealjs_style_theme = "white"
revealjs_static_path = ["_static"]
revealjs_css_files = ["pygments.css", "workshop.css"]
revealjs_script_conf = {
    "hash": True,  # the slide in the address bar: reload stays on the slide
    "slideNumber": "c/t",
    "center": False,
    "width": 1280,
    "height": 800,
    "margin": 0.04,
    # The speaker view's pacing timer: each step's slides carry data-timing from
    # steps.toml; slides outside the steps (title, closing) take no time.
    "defaultTiming": 0,
    "pdfSeparateFragments": False,
}
revealjs_script_plugins = [
    {"name": "RevealNotes", "src": "revealjs/plugin/notes/notes.js"},
    {"name": "RevealSearch", "src": "revealjs/plugin/search/search.js"},
]

html_copy_source = False
html_show_sourcelink = False
html_title = project
smartquotes = False  # slide text stays as written (and as steps.toml spells titles)

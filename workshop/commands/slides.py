"""`python -m workshop slides`: build the deck, and optionally print it to PDF.

The deck is slides/ (Markdown) built by Sphinx to reveal.js HTML in
slides/_build/revealjs/index.html, which opens straight from disk with no network.
"""

from __future__ import annotations

import base64
import pathlib
import subprocess
import sys
import webbrowser

from ..manifest import REPO_ROOT

SLIDES_DIR = REPO_ROOT / "slides"
BUILD_DIR = SLIDES_DIR / "_build"
INDEX = BUILD_DIR / "revealjs" / "index.html"


def _say(message: str) -> None:
    print(f"[workshop] {message}", flush=True)


def build_command() -> list[str]:
    """The one build command (slides/README.md shows the same, for sphinx-build)."""
    return [
        sys.executable, "-m", "sphinx", "-M", "revealjs", str(SLIDES_DIR), str(BUILD_DIR),
        "-W", "--keep-going",
    ]  # fmt: skip


def write_pdf(index: pathlib.Path, pdf: pathlib.Path) -> None:
    """Print the deck to PDF with headless Chromium, through reveal.js's print view."""
    from selenium.webdriver.support.wait import WebDriverWait

    from ..browser import start_chromium

    driver = start_chromium()
    try:
        driver.get(index.resolve().as_uri() + "?print-pdf")
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script(
                "return !!(window.Reveal && Reveal.isReady())"
                " && document.querySelectorAll('.pdf-page').length > 0"
            ),
            "reveal.js's print view did not lay out",
        )
        driver.execute_script("return document.fonts.ready.then(() => true)")
        printed = driver.execute_cdp_cmd(
            "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True}
        )
    finally:
        driver.quit()
    pdf.write_bytes(base64.b64decode(printed["data"]))


def build_deck(open_browser: bool = False, pdf: str | None = None) -> int:
    command = build_command()
    _say("Running: sphinx-build -M revealjs slides slides/_build -W --keep-going")
    code = subprocess.call(command, cwd=REPO_ROOT)
    if code != 0:
        _say(
            "The deck did not build: the warnings above name the slide file and the step "
            "file it could not include (a renamed file, function or marker line?)."
        )
        return code
    _say(f"The deck: {INDEX.as_uri()}")
    _say("Present: open it in a browser; S opens the speaker view with the notes and timer.")
    if pdf:
        from ..browser import BrowserUnavailable

        target = pathlib.Path(pdf).resolve()
        try:
            write_pdf(INDEX, target)
        except BrowserUnavailable as error:
            _say(f"No PDF: {error}")
            return 1
        _say(f"PDF written to {target}")
    if open_browser:
        webbrowser.open(INDEX.as_uri())
    return 0


def register(commands) -> None:
    """Add `slides` to the subcommands of python -m workshop (an argparse subparsers)."""
    slides = commands.add_parser("slides", help="build the slide deck (offline reveal.js HTML)")
    slides.add_argument("--open", action="store_true", help="open the built deck in a browser")
    slides.add_argument("--pdf", metavar="FILE", help="also print the deck to a PDF (Chromium)")
    slides.set_defaults(handler=lambda args: build_deck(open_browser=args.open, pdf=args.pdf))

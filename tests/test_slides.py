"""The workshop deck (slides/): it builds offline, and shows the steps' own code.

- The deck builds with warnings as errors (once per test session, into a temporary folder).
- A step file the slides include that is missing or renamed fails the build, and so does a
  step in steps.toml with no slides; changing a consumer changes its slide with no edit to
  the slides. These build a copy of slides/ against a copy of the steps (WORKSHOP_SLIDES_ROOT).
- Every code block on the slides equals its region of the step file it names.
- Headless Chromium opens the built deck from disk with the network cut off: reveal.js starts,
  every step of steps.toml has its section, every slide has notes, and no http(s) or ws URL is
  requested (a recording proxy stands in for the network).
- What the slides state inline (the handshake, the redis-py pin, the commands, the shell
  session) holds, and their prose names no layer machinery their step does not have.
"""

from __future__ import annotations

import argparse
import ast
import base64
import difflib
import hashlib
import html.parser
import http.server
import os
import pathlib
import re
import shutil
import socketserver
import subprocess
import sys
import textwrap
import threading

import pytest

from tests.prerequisites import unavailable
from workshop.browser import BrowserUnavailable, start_chromium
from workshop.cli import build_parser
from workshop.manifest import REPO_ROOT, load_steps

SLIDES = REPO_ROOT / "slides"

pytestmark = pytest.mark.xdist_group("slides")  # one worker builds the deck once


def start_build(
    source: pathlib.Path, out: pathlib.Path, root: pathlib.Path | None = None
) -> subprocess.Popen:
    """sphinx-build -M revealjs, warnings as errors, in a subprocess of its own."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    if root is not None:
        env["WORKSHOP_SLIDES_ROOT"] = str(root)
    command = [sys.executable, "-m", "sphinx", "-M", "revealjs", str(source), str(out)]
    command += ["-W", "--keep-going", "-q"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def finish(build: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        stdout, stderr = build.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        build.kill()
        stdout, stderr = build.communicate()
    return subprocess.CompletedProcess(build.args, build.returncode, stdout, stderr)


def build_deck(source, out, root=None) -> subprocess.CompletedProcess:
    return finish(start_build(source, out, root))


@pytest.fixture(scope="session")
def deck(tmp_path_factory):
    """The real slides/ built once; (result, index.html)."""
    out = tmp_path_factory.mktemp("deck")
    result = build_deck(SLIDES, out)
    return result, out / "revealjs" / "index.html"


@pytest.fixture(scope="session")
def deck_index(deck) -> pathlib.Path:
    result, index = deck
    if result.returncode != 0 or not index.is_file():
        pytest.fail(f"the deck did not build:\n{result.stderr}", pytrace=False)
    return index


def test_deck_builds_with_warnings_as_errors(deck):
    result, index = deck
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stderr}"
    assert result.stderr.strip() == "", f"the build warned:\n{result.stderr}"
    assert index.is_file()


# --- A copy of the steps, changed, must fail the build (or change the slide) -------------


def copy_workshop(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A copy of slides/ and one of the steps with steps.toml: (slides copy, root copy)."""
    ignore = shutil.ignore_patterns("_build", "_generated", "__pycache__", "*.sqlite3")
    slides = tmp_path / "slides"
    shutil.copytree(SLIDES, slides, ignore=ignore)
    root = tmp_path / "root"
    root.mkdir()
    for name in ("steps.toml", "pyproject.toml"):
        shutil.copy2(REPO_ROOT / name, root / name)
    for step in load_steps():
        shutil.copytree(step.path, root / step.folder, ignore=ignore)
    # The step 06 slides show the nginx file of the production page.
    (root / "docs" / "production").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "docs" / "production" / "nginx.conf", root / "docs" / "production")
    return slides, root


def rename_file(root: pathlib.Path) -> str:
    consumers = root / "step04_async_consumer" / "chat" / "consumers.py"
    consumers.rename(consumers.with_name("consumer.py"))
    return "step04_async_consumer/chat/consumers.py"


def rename_function(root: pathlib.Path) -> str:
    consumers = root / "step05_tests" / "chat" / "consumers.py"
    text = consumers.read_text()
    consumers.write_text(text.replace("parse_chat_message", "parse_frame"))
    return "parse_chat_message"


def remove_marker_line(root: pathlib.Path) -> str:
    settings = root / "step03_channel_layer" / "chatsite" / "settings.py"
    text = settings.read_text()
    settings.write_text(text.replace("CHANNEL_LAYERS = {", "LAYERS = {"))
    return "CHANNEL_LAYERS = {"


def add_step_without_slides(root: pathlib.Path) -> str:
    shutil.copytree(root / "step05_tests", root / "step06_more")
    manifest = root / "steps.toml"
    manifest.write_text(
        manifest.read_text()
        + '\n[[step]]\nfolder = "step06_more"\ntitle = "More"\nteach = 5\nexercise = 5\n'
        'capabilities = ["http"]\nchanged = ["README.md"]\n'
    )
    return "step06_more"


NEW_LINE = "        # A line the slides have never seen."


def edit_consumer(root: pathlib.Path) -> str:
    consumers = root / "step04_async_consumer" / "chat" / "consumers.py"
    text = consumers.read_text()
    anchor = "        await self.accept()\n"
    assert anchor in text
    consumers.write_text(text.replace(anchor, anchor + NEW_LINE + "\n", 1))
    return NEW_LINE


def exercise_written_on_a_slide(root: pathlib.Path) -> str:
    """An exercise on the slides that the step's README does not have."""
    template = root.parent / "slides" / "steps" / "step03_channel_layer.md"
    template.write_text(
        template.read_text()
        + "\n## Exercise: one more\n\nDo it.\n\n```{revealjs-notes}\nLike this.\n```\n"
    )
    return "slides/steps/step03_channel_layer.md"


def exercise_without_solution(root: pathlib.Path) -> str:
    readme = root / "step02_echo_consumer" / "README.md"
    text = readme.read_text()
    solution = re.compile(r"<details><summary>Solution</summary>.*?</details>", re.DOTALL)
    readme.write_text(solution.sub("", text, count=1))
    return "step02_echo_consumer/README.md"


BREAKAGES = [
    rename_file,
    rename_function,
    remove_marker_line,
    add_step_without_slides,
    exercise_written_on_a_slide,
    exercise_without_solution,
]


@pytest.fixture(scope="module")
def changed_copies(tmp_path_factory):
    """{change: (build result, what it names, root)}: each change in its own copy of
    slides/ and the steps, all built at the same time."""
    builds = {}
    for change in [*BREAKAGES, edit_consumer]:
        base = tmp_path_factory.mktemp(change.__name__)
        slides, root = copy_workshop(base)
        named = change(root)
        builds[change.__name__] = (start_build(slides, base / "out", root), named, root, base)
    return {
        name: (finish(build), named, root, base / "out" / "revealjs" / "index.html")
        for name, (build, named, root, base) in builds.items()
    }


@pytest.mark.parametrize("change", [change.__name__ for change in BREAKAGES])
def test_a_change_in_the_steps_the_slides_miss_fails_the_build(changed_copies, change):
    result, named, _, _ = changed_copies[change]
    assert result.returncode != 0, "the build passed although the slides no longer match"
    assert named in result.stderr, f"the error should name {named!r}:\n{result.stderr}"


def test_changing_a_consumer_changes_its_slide(changed_copies):
    result, new_line, root, index = changed_copies["edit_consumer"]
    assert result.returncode == 0, result.stderr
    blocks = code_blocks(index)
    shown = [
        block
        for block in blocks
        if block.attributes.get("data-source") == "step04_async_consumer/chat/consumers.py"
        and block.attributes.get("data-pyobject") == "ChatConsumer"
    ]
    assert shown and all(new_line in block.text for block in shown)
    check_blocks(blocks, root)


# --- Code on the slides equals the step files ------------------------------------------


class CodeBlock:
    def __init__(self, attributes: dict[str, str]):
        self.attributes = attributes
        self.text = ""


class _CodeBlockParser(html.parser.HTMLParser):
    """The <div class="step-code" data-...> blocks of the built deck, and their code."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[CodeBlock] = []
        self._current: CodeBlock | None = None
        self._in_pre = False

    def handle_starttag(self, tag, attrs):
        attributes = {key: value or "" for key, value in attrs}
        if tag == "div" and "step-code" in attributes.get("class", "").split():
            self._current = CodeBlock(attributes)
            self.blocks.append(self._current)
        elif tag == "pre" and self._current is not None:
            self._in_pre = True

    def handle_endtag(self, tag):
        if tag == "pre" and self._in_pre:
            self._in_pre = False
            self._current = None

    def handle_data(self, data):
        if self._in_pre and self._current is not None:
            self._current.text += data


def code_blocks(index: pathlib.Path) -> list[CodeBlock]:
    parser = _CodeBlockParser()
    parser.feed(index.read_text(encoding="utf-8"))
    return parser.blocks


def python_object_source(path: pathlib.Path, dotted: str) -> str:
    """The lines of a class, function or method, found with ast (decorators included)."""
    source = path.read_text(encoding="utf-8")
    body = ast.parse(source).body
    node = None
    for name in dotted.split("."):
        node = next(
            (
                child
                for child in body
                if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and child.name == name
            ),
            None,
        )
        assert node is not None, f"{dotted} is not in {path}"
        body = node.body
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return "".join(source.splitlines(keepends=True)[first - 1 : node.end_lineno])


def region(path: pathlib.Path, options: dict[str, str]) -> str:
    """The part of a file a code block names, computed here, independently of Sphinx."""
    if "data-pyobject" in options:
        text = python_object_source(path, options["data-pyobject"])
    else:
        text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for option, keep_marker in (("data-start-after", False), ("data-start-at", True)):
        if option in options:
            index = next(i for i, line in enumerate(lines) if options[option] in line)
            lines = lines[index if keep_marker else index + 1 :]
    for option, keep_marker in (("data-end-before", False), ("data-end-at", True)):
        if option in options:
            index = next(i for i, line in enumerate(lines) if options[option] in line)
            lines = lines[: index + 1 if keep_marker else index]
    text = "".join(lines)
    if "data-dedent" in options:
        text = textwrap.dedent(text)
    return text


def expected_text(block: CodeBlock, root: pathlib.Path) -> str:
    attributes = block.attributes
    new = root / attributes["data-source"]
    if "data-diff-from" not in attributes:
        return region(new, attributes)
    old_label = attributes["data-diff-from"]
    old_lines = [] if old_label == "/dev/null" else (root / old_label).read_text().splitlines(True)
    diff = difflib.unified_diff(
        old_lines, new.read_text().splitlines(True), old_label, attributes["data-source"]
    )
    return "".join(diff)


def check_blocks(blocks: list[CodeBlock], root: pathlib.Path) -> None:
    """Every block's code equals its region (Pygments drops leading and trailing newlines)."""
    assert blocks, "no code blocks from the steps in the deck"
    for block in blocks:
        expected = expected_text(block, root).strip("\n")
        assert block.text.strip("\n") == expected, (
            f"the slide's code differs from {block.attributes}:\n"
            + "".join(
                difflib.unified_diff(
                    expected.splitlines(True), block.text.strip("\n").splitlines(True)
                )
            )
        )


def test_code_on_every_slide_equals_its_region_of_the_step_files(deck_index):
    blocks = code_blocks(deck_index)
    check_blocks(blocks, REPO_ROOT)
    sources = {block.attributes["data-source"].split("/")[0] for block in blocks}
    missing = {step.folder for step in load_steps()} - sources
    assert not missing, f"steps with no code on their slides: {missing}"


# --- The built deck in a browser, offline ------------------------------------------------


class _NoNetwork(http.server.BaseHTTPRequestHandler):
    """The browser's proxy, standing in for the network: every request gets a 503."""

    def _refuse(self):
        self.send_error(503, "No network in this test")

    do_GET = do_POST = do_HEAD = do_CONNECT = do_OPTIONS = _refuse

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def offline_chromium():
    """Headless Chromium with the network cut off: all of it goes to a proxy that refuses.

    (Chromium's own background requests go there too, so what the deck requested is read
    from the page's resource timing entries, which list failed loads as well.)
    """
    proxy = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _NoNetwork)
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    flags = (
        f"--proxy-server=http://127.0.0.1:{proxy.server_address[1]}",
        "--proxy-bypass-list=<-loopback>",  # localhost goes to the proxy too
    )
    try:
        driver = start_chromium(flags)
    except BrowserUnavailable as error:
        proxy.shutdown()
        proxy.server_close()
        unavailable(str(error))
    yield driver
    driver.quit()
    proxy.shutdown()
    proxy.server_close()


def open_deck(driver, url: str) -> None:
    from selenium.webdriver.support.wait import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return !!(window.Reveal && Reveal.isReady())"),
        "reveal.js did not initialise",
    )
    driver.execute_script("return document.fonts.ready.then(() => true)")


def requested_online(driver) -> list[str]:
    """Every URL the page requested that is not on disk (failed requests included)."""
    return driver.execute_script(
        "return performance.getEntriesByType('resource').map(r => r.name)"
        ".filter(url => !/^(file|data|blob):/.test(url))"
    )


@pytest.fixture(scope="module")
def presented(offline_chromium, deck_index):
    """The deck opened from disk, once reveal.js is ready."""
    open_deck(offline_chromium, deck_index.as_uri())
    return offline_chromium


@pytest.mark.browser
def test_deck_presents_offline_from_disk(presented):
    state = presented.execute_script(
        """
        const slides = Reveal.getSlides();
        return {
            ready: Reveal.isReady(),
            total: Reveal.getTotalSlides(),
            steps: Array.from(document.querySelectorAll('section[data-workshop-step] > h1'))
                .map(h => [h.parentElement.dataset.workshopStep, h.textContent]),
            withoutNotes: slides.filter(s => !Reveal.getSlideNotes(s))
                .map(s => (s.querySelector('h1,h2,h3') || {}).textContent),
            seconds: Reveal.getSlidesAttributes()
                .reduce((sum, a) => sum + parseInt(a['data-timing'] || '0', 10), 0),
            themeFont: document.fonts.check('1em "Source Sans Pro"'),
            highlighted: document.querySelectorAll('.step-code .highlight pre span').length,
            tooTall: slides.filter(s => {
                const i = Reveal.getIndices(s);
                Reveal.slide(i.h, i.v);  // only the current slide is laid out
                return s.scrollHeight > Reveal.getConfig().height;
            }).map(s => s.querySelector('h1,h2,h3').textContent),
        };
        """
    )
    assert state["ready"] and state["total"] > 20
    steps = load_steps()
    expected = [[s.folder, f"Step {s.number} · {s.title}"] for s in steps]
    assert state["steps"] == expected, "the deck's step sections differ from steps.toml"
    assert not state["withoutNotes"], f"slides without speaker notes: {state['withoutNotes']}"
    assert state["seconds"] == 60 * sum(s.minutes for s in steps), "timing != steps.toml"
    assert not requested_online(presented), "the deck requested URLs from the network"
    assert state["themeFont"], "reveal.js's own font did not load from disk"
    assert state["highlighted"] > 100, "the code is not highlighted"
    assert not state["tooTall"], f"slides taller than the screen: {state['tooTall']}"


@pytest.mark.browser
def test_async_consumer_slide_shows_the_class_from_step_04(presented):
    text = presented.execute_script(
        """
        const block = document.querySelector(
            '.step-code[data-source="step04_async_consumer/chat/consumers.py"]'
            + '[data-pyobject="ChatConsumer"] pre');
        return block && block.textContent;
        """
    )
    step04 = next(s for s in load_steps() if s.folder == "step04_async_consumer")
    source = python_object_source(step04.path / "chat" / "consumers.py", "ChatConsumer")
    assert text is not None, "no slide shows step 04's ChatConsumer"
    assert text.strip("\n") == source.strip("\n")


@pytest.mark.browser
def test_print_view_makes_a_page_per_slide(presented, deck_index):
    """?print-pdf, the PDF route of slides/README.md: a page per slide, offline."""
    try:
        open_deck(presented, deck_index.as_uri() + "?print-pdf")
        pages, total = presented.execute_script(
            "return [document.querySelectorAll('.pdf-page').length, Reveal.getTotalSlides()]"
        )
        assert pages >= total > 20
        pdf = base64.b64decode(
            presented.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True})["data"]
        )
        assert pdf.startswith(b"%PDF")
        assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) >= total
        assert not requested_online(presented), "the print view requested URLs from the network"
    finally:
        open_deck(presented, deck_index.as_uri())


# --- What the slides state inline -------------------------------------------------------


def slide_sources() -> str:
    files = [SLIDES / "index.md", *sorted((SLIDES / "steps").glob("*.md"))]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def test_handshake_on_the_slide_is_a_valid_one():
    text = slide_sources()
    key = re.search(r"Sec-WebSocket-Key: (\S+)", text).group(1)
    accept = re.search(r"Sec-WebSocket-Accept: (\S+)", text).group(1)
    guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
    digest = hashlib.sha1((key + guid).encode()).digest()
    assert base64.b64encode(digest).decode() == accept


def test_commands_on_the_slides_exist():
    parser = build_parser()
    commands = next(
        action.choices
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    named = set(re.findall(r"python -m workshop (\w+)", slide_sources()))
    assert named, "the slides name no workshop command"
    assert named <= set(commands), f"not commands of python -m workshop: {named - set(commands)}"


def test_redis_py_pin_is_below_8_wherever_channels_redis_is():
    # The step 3 slide says requirements.txt pins redis-py below 8 (channels_redis#422).
    for step in load_steps():
        requirements = (step.path / "requirements.txt").read_text()
        if "channels-redis" not in requirements:
            continue
        pin = re.search(r"^redis==(\d+)\.", requirements, re.MULTILINE)
        assert pin and int(pin.group(1)) < 8, f"{step.folder}: redis-py is not pinned below 8"


# Layer machinery that the prose of a step's slides may name only where the step has it: the
# speaker notes are free text, not included code, and once went on teaching the pub/sub layer,
# its heartbeat and a dispatch() shortcut after the steps had dropped them.
MACHINERY = {
    "the pub/sub layer": (
        re.compile(r"pub/sub|pubsub", re.IGNORECASE),
        "chatsite/settings.py",
        "pubsub",
    ),
    "a dispatch() shortcut": (
        re.compile(r"\bdispatch\(\)"),
        "chat/consumers.py",
        "def dispatch(",
    ),
    "a layer heartbeat": (
        re.compile(r"check_the_layer|checks? the layer", re.IGNORECASE),
        "chat/consumers.py",
        "check_the_layer",
    ),
}


def test_slides_name_layer_machinery_only_where_the_step_has_it():
    for step in load_steps():
        text = (SLIDES / "steps" / f"{step.folder}.md").read_text(encoding="utf-8")
        for what, (words, file, sign) in MACHINERY.items():
            source = step.path / file
            has_it = source.is_file() and sign in source.read_text(encoding="utf-8")
            named = words.findall(text)
            assert has_it or not named, (
                f"slides/steps/{step.folder}.md names {what} ({named[0]!r}), which "
                f"{step.folder} does not have (no {sign!r} in its {file})"
            )


@pytest.mark.redis
def test_channel_layer_shell_session_works(tmp_path, redis_url):
    """The shell session on the step 3 slide, run in a copy of step 3 against real Redis."""
    step = next(s for s in load_steps() if s.has("groups"))
    project = tmp_path / step.folder
    shutil.copytree(step.path, project, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    env = dict(os.environ, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="chatsite.settings")
    session = (SLIDES / "snippets" / "channel_layer_shell.py").read_text()
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-i", "python"],
        input=session,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "{'type': 'hello'}" in result.stdout, result.stdout + result.stderr


# --- The exercises: the step READMEs' own, solutions in the speaker notes ---------------


class Slide:
    def __init__(self):
        self.heading = ""
        self.body = ""
        self.notes = ""


class _SlideParser(html.parser.HTMLParser):
    """Each <section> of the built deck: its heading, its text, and its speaker notes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.slides: list[Slide] = []
        self._open: list[Slide] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            self._open.append(Slide())
            self.slides.append(self._open[-1])
        elif tag in ("h1", "h2", "h3") or (tag == "aside" and ("class", "notes") in attrs):
            self._in.append(tag)

    def handle_endtag(self, tag):
        if tag == "section" and self._open:
            self._open.pop()
        elif self._in and tag == self._in[-1]:
            self._in.pop()

    def handle_data(self, data):
        if not self._open:
            return
        slide = self._open[-1]
        if "aside" in self._in:
            slide.notes += data
        elif self._in:
            slide.heading += data
        else:
            slide.body += data


def words(text: str) -> str:
    return " ".join(text.split())


def markdown_text(markdown: str) -> str:
    """What Markdown shows as text, rendered by markdown-it (the parser under MyST)."""
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    return words(html.unescape(re.sub(r"<[^>]+>", "", rendered)))


def test_the_deck_shows_the_readme_exercises_with_their_solutions_in_the_notes(deck_index):
    from workshop.exercises import read_exercises

    parser = _SlideParser()
    parser.feed(deck_index.read_text(encoding="utf-8"))
    slides = {words(slide.heading): slide for slide in parser.slides}
    on_slides = [title for title in slides if title.lower().startswith("exercise ")]
    expected = []
    for step in load_steps():
        for exercise in read_exercises((step.path / "README.md").read_text(encoding="utf-8")):
            title = words(f"Exercise {exercise.number}: {markdown_text(exercise.title)}")
            expected.append(title)
            slide = slides.get(title)
            assert slide, f"{step.folder}: no slide {title!r}; exercise slides: {on_slides}"
            assert markdown_text(exercise.prompt) == words(slide.body), f"{title}: prompt differs"
            assert markdown_text(exercise.solution) in words(slide.notes), (
                f"{title}: the notes lack the README's solution"
            )
    assert sorted(on_slides) == sorted(expected), "exercise slides that no README has"

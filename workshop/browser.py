"""Headless Chromium for Selenium, using the system's browser and driver.

Nothing is downloaded: Selenium gets the driver's path explicitly, so Selenium
Manager never tries to go online. CHROME_BINARY and CHROMEDRIVER_PATH override
where they are: the names step 05's own browser tests read, so one setting serves both.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

INSTALL_HINT = (
    "Install Chromium and its driver: Debian/Ubuntu `sudo apt-get install chromium "
    "chromium-driver`; macOS `brew install --cask chromium chromedriver`; or point "
    "CHROME_BINARY and CHROMEDRIVER_PATH at your Chrome and its matching ChromeDriver."
)

# Headless as root needs --no-sandbox; the rest stop Chromium from phoning home,
# which on a closed network only costs time and log noise.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1200,900",
)


class BrowserUnavailable(RuntimeError):
    """Chromium or ChromeDriver is missing or would not start."""


def _first_existing(*candidates: str | None) -> str | None:
    for candidate in candidates:
        if candidate and (os.path.isfile(candidate) or shutil.which(candidate)):
            return shutil.which(candidate) or candidate
    return None


# The tooling's former name for CHROME_BINARY, still read so an old setting keeps working.
OLD_BROWSER_VARIABLE = "CHROMIUM_PATH"


def browser_setting() -> str | None:
    """CHROME_BINARY, else the old CHROMIUM_PATH (with a note to rename it)."""
    if os.environ.get("CHROME_BINARY"):
        return os.environ["CHROME_BINARY"]
    old = os.environ.get(OLD_BROWSER_VARIABLE)
    if old:
        print(
            f"[workshop] note: {OLD_BROWSER_VARIABLE} is now called CHROME_BINARY (the name "
            "step 05's tests read); rename it, it is still used this time.",
            file=sys.stderr,
            flush=True,
        )
    return old


def chromium_paths() -> tuple[str | None, str | None]:
    """(browser, driver) paths, or None for each one that is missing."""
    browser = _first_existing(browser_setting(), "/usr/bin/chromium", "chromium", "google-chrome")
    driver = _first_existing(
        os.environ.get("CHROMEDRIVER_PATH"), "/usr/bin/chromedriver", "chromedriver"
    )
    return browser, driver


def start_chromium(extra_flags: tuple[str, ...] = ()):
    """A Selenium WebDriver for headless Chromium; raises BrowserUnavailable with the fix.

    Chromium and ChromeDriver leave folders in the temp directory even after a clean quit
    (its profile, its singleton socket): they get a private TMPDIR that quit() removes.
    """
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    class ChromiumDriver(webdriver.Chrome):
        """webdriver.Chrome whose quit() also removes the browser's temp folder."""

        def __init__(self, scratch: str, **kwargs):
            self.scratch = scratch
            super().__init__(**kwargs)

        def quit(self) -> None:
            try:
                super().quit()
            finally:
                shutil.rmtree(self.scratch, ignore_errors=True)

    browser, driver = chromium_paths()
    if browser is None or driver is None:
        missing = "Chromium" if browser is None else "ChromeDriver"
        raise BrowserUnavailable(f"{missing} was not found. {INSTALL_HINT}")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS + tuple(extra_flags):
        options.add_argument(flag)
    scratch = tempfile.mkdtemp(prefix="workshop-chromium-")
    # ChromeDriver passes its environment on to Chromium: both write under scratch.
    service = Service(executable_path=driver, env={**os.environ, "TMPDIR": scratch})
    try:
        return ChromiumDriver(scratch, options=options, service=service)
    except WebDriverException as error:
        shutil.rmtree(scratch, ignore_errors=True)
        raise BrowserUnavailable(
            f"Chromium ({browser}) with ChromeDriver ({driver}) would not start: "
            f"{error.msg or error}. Their major versions must match. {INSTALL_HINT}"
        ) from error

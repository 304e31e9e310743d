"""Headless Chromium for the tests and the docs' screenshots: Debian's chromium driven by its own
chromium-driver through Selenium (browser and driver come from one source package, so their
versions always match; nothing is downloaded).

``chromium_or_skip()`` skips a test where Chromium is missing, except in CI (``CI`` set), where a
missing browser fails the test: CI installs it and the browser tests must run there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage"]
# Screenshots kept by the tests (a CI artifact folder; gitignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def chromium_or_skip() -> None:
    """Skip when Chromium or its driver is missing, unless in CI: there, fail."""
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER))
               if path is None]
    if not missing:
        return
    why = (f"{' and '.join(missing)} not installed (apt-get install chromium "
           f"chromium-driver)")
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the browser tests")
    pytest.skip(why)


def chromium(profile: Path, width: int = 1400, height: int = 1000):
    """A headless Chromium WebDriver with a fresh profile in ``profile``; its performance log
    records the pages' network requests (see ``requested_urls``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


def requested_urls(driver) -> list[str]:
    """The URLs the pages requested since the last call (from the DevTools network events)."""
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls

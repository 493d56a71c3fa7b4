"""Debian's headless chromium through chromium-driver, for the tests that look at a UI (Dagster's, Superset's)."""

from __future__ import annotations

import shutil

import pytest


def headless_chromium(width: int, height: int):
    """A WebDriver session on a `width`×`height` window that can resolve no host but 127.0.0.1 (quit it after)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail(
            "chromium and chromium-driver are needed: apt-get install chromium chromium-driver (infra/setup.sh does it)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        f"--window-size={width},{height}",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)

from __future__ import annotations

import pytest

# Debian's chromium: Playwright's own browser download cannot work on these machines.
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "locale": "en-US"}


@pytest.fixture(scope="session")
def base_url(pytestconfig: pytest.Config) -> str | None:
    """Same value as pytest-playwright's fallback fixture, which is defined as a method on a plugin
    object: pytest 9 deprecates that (PytestRemovedIn10Warning), and deprecations are errors here."""
    return pytestconfig.getoption("--base-url") or pytestconfig.getini("base_url") or None

"""The console as its own process on the e2e network, and Chromium to drive it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from console_browser import Tab

from rescue_localnet.broker import free_port

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "docs" / "console"


@contextmanager
def console_process(network, log_dir: Path, **settings: str) -> Iterator[str]:
    """The console as its own process on the network's services (the development
    sign-in), with these extra settings; its URL once it answers."""
    port = free_port()
    env = {
        **os.environ,
        **{f"CONSOLE_{name.upper()}_URL": s.url for name, s in network.services.items()},
        "CONSOLE_DEV_JWT_SECRET": network.jwt_secret,
        **settings,
    }
    log = log_dir / "console.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "rescue_console", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a loaded two-core machine starts slowly
        while True:
            if process.poll() is not None:
                pytest.fail(f"the console exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the console is not up after 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def console(network, tmp_path_factory) -> Iterator[str]:
    # the tests watch the board update
    with console_process(
        network, tmp_path_factory.mktemp("console"), CONSOLE_BOARD_REFRESH_SECONDS="2"
    ) as url:
        yield url


def launch_chromium(playwright):
    if not CHROMIUM.exists():
        # Never a skip: make setup installs chromium, and a test that cannot run has failed.
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` (apt-get install chromium)")
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--lang=zh-CN"]
    )


# Per module, and after the network is up: while Playwright's sync API runs, its event
# loop is the thread's running loop, and the network's asyncio.run() would refuse.
@pytest.fixture(scope="module")
def browser(console):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def desk(browser, console):
    tab = Tab(browser, console, viewport={"width": 1280, "height": 900})
    yield tab
    tab.close()
    assert not tab.csp_violations, tab.csp_violations


@pytest.fixture
def phone(browser, console):
    tab = Tab(
        browser,
        console,
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    yield tab
    tab.close()
    assert not tab.csp_violations, tab.csp_violations


@pytest.fixture(scope="session")
def axe_source() -> str:
    return (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text()

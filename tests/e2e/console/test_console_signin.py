"""The console's OIDC sign-in in Chromium (issue 26): through make run's local issuer
(rescue_localnet.issuer, its own process) to the board, whose panels come from
services that trust that issuer only.

The session's network uses the shared development secret, so this module starts,
on it, what the production path needs: the issuer, OIDC replicas of the services
the board reads (intake, search, followup: same databases and broker, with
``<SERVICE>_OIDC_ISSUER``) and a console with ``CONSOLE_OIDC_ISSUER``."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import launch_chromium
from console_browser import Tab
from playwright.sync_api import expect

from rescue_localnet.broker import free_ports
from rescue_localnet.network import issuer_token
from rescue_localnet.services import ServiceProcess

pytestmark = pytest.mark.e2e

BOARD_SERVICES = ("intake", "search", "followup")


class OidcSide:
    def __init__(self, issuer: str, console: str, urls: dict[str, str], data_dir) -> None:
        self.issuer = issuer
        self.console = console
        self.urls = urls
        self.data_dir = data_dir

    def token(self, station: str, roles: list[str]) -> str:
        """A token of the issuer for the test's own calls (as make token gets one)."""
        return issuer_token(self.issuer, self.data_dir, station, roles, "e2e")


@pytest.fixture(scope="module")
def oidc(network, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("oidc")
    logs = data_dir / "logs"
    issuer_port, console_port, *ports = free_ports(2 + len(BOARD_SERVICES))
    issuer_url = f"http://127.0.0.1:{issuer_port}"
    console_url = f"http://127.0.0.1:{console_port}"
    issuer = ServiceProcess(
        name="issuer",
        module="rescue_localnet.issuer",
        port=issuer_port,
        env={
            **os.environ,
            "RESCUE_ISSUER_URL": issuer_url,
            "RESCUE_ISSUER_DATA_DIR": str(data_dir / "issuer"),
            "RESCUE_ISSUER_REDIRECT_URIS": f"{console_url}/signin/callback",
        },
        log_file=logs / "issuer.log",
    )
    replicas = [
        ServiceProcess(
            name=name,
            port=port,
            env={**network.env_for(name), f"{name.upper()}_OIDC_ISSUER": issuer_url},
            log_file=logs / f"{name}.log",
        )
        for name, port in zip(BOARD_SERVICES, ports, strict=True)
    ]
    urls = {name: s.url for name, s in network.services.items()}
    urls.update({r.name: r.url for r in replicas})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    console = ServiceProcess(
        name="console",
        module="rescue_console",
        port=console_port,
        env={
            **env,
            **{f"CONSOLE_{name.upper()}_URL": url for name, url in urls.items()},
            "CONSOLE_OIDC_ISSUER": issuer_url,
        },
        log_file=logs / "console.log",
        ready_path="/health/live",
    )
    parts = [issuer, *replicas, console]
    try:
        for part in parts:
            part.start()
        for part in parts:
            part.wait_ready(timeout=120)
        yield OidcSide(issuer_url, console_url, urls, data_dir)
    finally:
        for part in reversed(parts):
            part.stop()


@pytest.fixture(scope="module")
def browser(oidc):
    """Chromium as conftest's, without the session's development-sign-in console."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def sign_in_at_issuer(tab: Tab, station: str, roles: tuple[str, ...], subject: str) -> None:
    """On the issuer's own page: the developer's choice of station and roles."""
    page = tab.page
    expect(page.get_by_role("heading", level=1)).to_contain_text("本地开发认证")
    page.get_by_label("救助站").select_option(station)
    for box in page.locator("input[name=roles]").all():
        box.set_checked(box.get_attribute("value") in roles)
    page.get_by_label("工号或姓名").fill(subject)
    page.get_by_role("button", name="登录").click()


def admit_at_gushi(oidc: OidcSide) -> str:
    now = datetime.now(UTC)
    answer = httpx.post(
        f"{oidc.urls['intake']}/persons",
        headers={
            "Authorization": f"Bearer {oidc.token('gushi', ['station_staff'])}",
            "Idempotency-Key": f"signin-{uuid.uuid4()}",
        },
        json={
            "arrival_route": "street_patrol",
            "arrived_at": (now - timedelta(hours=1)).isoformat(),
            "sex": "male",
            "estimated_age": 66,
            "stated_names": ["赵登录"],
            "consent_given": True,
            "handover": {
                "escorting_unit": "固始县公安局城关派出所",
                "officer": "周警官",
                "reference_number": "GS-OIDC-0001",
                "found_place": "固始县汽车站",
                "found_at": (now - timedelta(hours=2)).isoformat(),
            },
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_a_sign_in_through_the_issuer_opens_the_board_from_services_trusting_it(
    browser, oidc, network
):
    person_id = admit_at_gushi(oidc)
    # The replicas trust the issuer only: the shared secret's tokens no longer open them.
    secret_token = network.token("gushi", ["station_staff"])
    refused = httpx.get(
        f"{oidc.urls['intake']}/station/persons",
        headers={"Authorization": f"Bearer {secret_token}"},
        timeout=10,
    )
    assert refused.status_code == 401

    tab = Tab(browser, oidc.console, viewport={"width": 1280, "height": 900})
    try:
        page = tab.page
        tab.goto("/board")  # no session: the console sends the browser to the issuer
        page.wait_for_url(f"{oidc.issuer}/authorize?*")
        sign_in_at_issuer(tab, "gushi", ("station_staff",), "钱值班")
        page.wait_for_url(f"{oidc.console}/board")
        expect(page.locator("header .who")).to_contain_text("钱值班")
        # The board's list comes from intake, called with the issuer's token.
        expect(page.locator(f"#h-list ~ div a[href='/persons/{person_id}']")).to_be_visible()

        page.get_by_role("button", name="退出登录").click()
        page.wait_for_url(f"{oidc.console}/signed-out")
        expect(page.get_by_role("heading", level=1)).to_have_text("已退出登录")
        tab.goto("/board")  # the session is over: back to the issuer
        page.wait_for_url(f"{oidc.issuer}/authorize?*")
    finally:
        tab.close()
    assert not tab.csp_violations, tab.csp_violations


def test_another_stations_staff_do_not_see_gushis_person(browser, oidc):
    person_id = admit_at_gushi(oidc)
    tab = Tab(browser, oidc.console, viewport={"width": 1280, "height": 900})
    try:
        page = tab.page
        tab.goto("/board")
        page.wait_for_url(f"{oidc.issuer}/authorize?*")
        sign_in_at_issuer(tab, "guangshan", ("station_staff",), "孙值班")
        page.wait_for_url(f"{oidc.console}/board")
        expect(page.locator("header .who")).to_contain_text("孙值班")
        expect(page.get_by_role("heading", name="在站名单（在站时间最长的在前）")).to_be_visible()
        expect(page.locator(f"a[href='/persons/{person_id}']")).to_have_count(0)
        # the services decide: the person's page is refused to guangshan's staff too
        tab.goto(f"/persons/{person_id}")
        expect(page.locator("main")).to_contain_text("查无此人或无权查看")
    finally:
        tab.close()

"""Driving the console in Chromium: a tab that signs in, and axe-core's verdict."""

from __future__ import annotations


class Tab:
    """A browser context and its page, with the CSP reports it produced."""

    def __init__(self, browser, base: str, **context_options) -> None:
        self.base = base
        self.context = browser.new_context(
            locale="zh-CN", timezone_id="Asia/Shanghai", **context_options
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.csp_violations: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.csp_violations.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )

    def goto(self, path: str):
        return self.page.goto(self.base + path)

    def sign_in(self, station: str = "gushi", roles=("station_staff",), subject: str = "值班员"):
        page = self.page
        self.goto("/signin")
        page.get_by_label("救助站").select_option(station)
        for box in page.locator("input[name=roles]").all():
            box.set_checked(box.get_attribute("value") in roles)
        page.get_by_label("工号或姓名").fill(subject)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(self.base + "/board")

    def close(self) -> None:
        self.context.close()


def serious_violations(page, axe_source: str) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations of impact serious or critical."""
    page.evaluate(axe_source)
    result = page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]

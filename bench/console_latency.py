"""The station console's page and action latency with 20 simulated staff (issue 26).

Starts the real network (LocalNetwork on free ports: embedded Postgres, tansu, the
five services as processes) and the console as its own process (the development
sign-in, the network's JWT secret), seeds each station with persons in station and
in hospital, then signs in 20 staff at four stations in several roles through the
console's own sign-in form, as a browser does (the form's CSRF cookie and field, an
``Origin`` header, the session cookie). Each staff member then loops over realistic
work for ``--seconds`` with think time between steps:

- pages: the board, its panels (htmx refresh), a person's page, the admission form,
  the persons in hospital, a case's page (where the console has one), a place
  suggestion while typing;
- actions: an admission (``POST /admissions`` with the form's CSRF token and
  Idempotency-Key; then the person's page, as the browser follows the redirect)
  and a discharge (the person's page, then ``POST /persons/{id}/discharge``).

Per console request it records the time to the whole answer. After a share of them
(``--direct-share``) the same staff member makes the same calls straight to the
services with the same token (the console's fan-out, in parallel as the console
makes them): the console's overhead shows as a ratio measured under the same load.

Besides the 20 staff (issue 27): two center coordinators at the center's page, the
summary table and its xlsx export (think ``--center-think``, so the center's page has
20 samples or more for its p95), a police agency (its identity check delivered with a
face photo: the portal reads referral's pull feed, the photo is fetched through the
console) and a women's federation at the partners' portal, and two town officials at
their roster, each signed in through the console's sign-in form as its account kind.

Prints p50/p95/p99 and counts per page type and per action, pages and actions
together against their targets (p95 ≤ 300 ms pages, ≤ 500 ms actions), the
errors, and the CPU each process used.

    python bench/console_latency.py          # 20 staff, 60 s after a 10 s warm-up, think 2–8 s
    python bench/console_latency.py --seconds 20 --warmup 5
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import html
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import aiohttp
from common import (
    CpuMeter,
    a_network,
    admission_body,
    emit,
    network_processes,
    out,
    percentile,
    verdict,
)

PAGE_TARGET_P95_MS = 300.0
ACTION_TARGET_P95_MS = 500.0

# Who works where: (station, roles), one entry per simulated staff member.
STAFF = [
    *[("gushi", ["station_staff"])] * 5,
    ("gushi", ["station_lead"]),
    *[("guangshan", ["station_staff"])] * 4,
    ("guangshan", ["station_lead"]),
    *[("xixian", ["station_staff"])] * 4,
    ("xixian", ["station_lead"]),
    *[("center", ["station_staff"])] * 2,
    ("center", ["center_coordinator"]),
    ("center", ["search_specialist", "station_staff"]),
]
# What a step is, and how often staff do it: the board's panels refresh by themselves.
WORK = {
    "board": 2,
    "board panels": 6,
    "person": 4,
    "admission form + admission": 1.5,
    "discharge": 1,
    "hospital placements": 1,
    "case": 2,
    "place suggestion": 2,
    # part 2 (issue 27): after identification, and the center's pages
    "referrals": 1,
    "revisits": 1,
    "returns": 1,
    "center": 0.5,
    "summary": 0.5,
}
# Part 2's pages by step: (path, who opens it: None for everyone, else a role needed).
PART_TWO = {
    "referrals": ("/referrals", None),
    "revisits": ("/revisits", None),
    "returns": ("/returns", None),
    "center": ("/center", "center_coordinator"),
    "summary": ("/summary", "center_coordinator"),
}
# Accounts beyond the staff, each with its own work: (kind, account, roles, work by weight).
POLICE_AGENCY = "police-4115-bench"
FEDERATION = "womens-federation-4115-bench"
OTHERS = [
    ("coordinator", "center", ["center_coordinator"]),
    ("coordinator", "center", ["center_coordinator"]),
    ("partner", POLICE_AGENCY, ["partner", "police"]),
    ("partner", FEDERATION, ["partner", "womens_federation"]),
    ("town", "411525100", ["town_official"]),
    ("town", "411525101", ["town_official"]),
]
OTHER_WORK = {
    "coordinator": {"center": 6, "summary": 2, "summary export": 2},
    "partner": {"partner": 1},
    "town": {"town": 1},
}
FACE = Path("/work/shared/testdata/faces/test/obama1.jpg")
FACE_JPEG = FACE.read_bytes() if FACE.exists() else None  # read once, before the loop runs
PHOTO_SRC = re.compile(r'src="(/partner/photo\?link=[^"]+)"')
PLACES_SAID = ["gushi", "固始", "xiangfan", "襄樊", "陈集", "chen ji", "光山", "xi xian", "息县"]
NAMES = ["王建国", "李秀英", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄海"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
PERSON = re.compile(r"/persons/([0-9a-f-]{36})")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# ---- figures ------------------------------------------------------------------------


@dataclass
class Figures:
    """Latencies (ms) by (kind, type), console and direct; errors by type."""

    console: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    direct: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    calls: dict[str, list[float]] = field(default_factory=dict)  # each direct call alone
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    begin: float = float("inf")  # the measured window (perf_counter), by request start
    end: float = float("inf")

    def add(self, where: str, kind: str, name: str, started: float, ms: float) -> None:
        if self.begin <= started < self.end:
            getattr(self, where).setdefault((kind, name), []).append(ms)

    def error(self, name: str, what: str, started: float) -> None:
        if self.begin <= started < self.end:
            self.errors[name] = self.errors.get(name, 0) + 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{name}: {what}")


def stats(ms: list[float]) -> dict[str, float]:
    return {
        "count": len(ms),
        "p50": percentile(ms, 0.50),
        "p95": percentile(ms, 0.95),
        "p99": percentile(ms, 0.99),
    }


# ---- the console as its own process ----------------------------------------------------


def start_console(net, log_dir: Path) -> tuple[subprocess.Popen, str]:
    from rescue_localnet.broker import free_port

    port = free_port()
    env = {
        **os.environ,
        **{f"CONSOLE_{name.upper()}_URL": s.url for name, s in net.services.items()},
        "CONSOLE_DEV_JWT_SECRET": net.jwt_secret,
        "CONSOLE_COOKIE_SECURE": "false",  # plain http on 127.0.0.1, a non-browser cookie jar
    }
    log = open(log_dir / "console.log", "wb")  # noqa: SIM115 (the process keeps it)
    process = subprocess.Popen(
        [sys.executable, "-m", "rescue_console", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    import httpx

    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the console exited:\n{(log_dir / 'console.log').read_text()}")
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the console is not up after 60 s")
        time.sleep(0.1)


# ---- the stations' persons ----------------------------------------------------------------


@dataclass
class Station:
    """What the staff of one station work on: persons in station, their cases."""

    id: str
    persons: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)


async def seed(net, http: aiohttp.ClientSession, per_station: int) -> dict[str, Station]:
    """Persons in station (admitted straight at intake), a few in hospital, and the
    cases search opened for them."""
    stations = {sid: Station(sid) for sid, _ in STAFF}
    intake = net.services["intake"].url
    for station in stations.values():
        token = net.token(station.id, ["station_staff"], f"seed-{station.id}")
        for i in range(per_station):
            body = {**admission_body(i), "stated_names": [random.choice(NAMES)]}
            async with http.post(
                f"{intake}/persons", json=body, headers=_headers(token, idempotent=True)
            ) as answer:
                if answer.status != 201:
                    raise RuntimeError(f"seeding: intake answered {answer.status}")
                station.persons.append((await answer.json())["id"])
        for i in range(3):
            placement = {
                "hospital": f"{station.id} 人民医院",
                "conditions": ["critical_illness"],
                "sex": "male" if i % 2 else "female",
                "estimated_age": 40 + i,
            }
            async with http.post(
                f"{intake}/hospital-placements",
                json=placement,
                headers=_headers(token, idempotent=True),
            ) as answer:
                if answer.status != 201:
                    out(f"  (a hospital placement was refused: {answer.status})")
    # search opens a case per admission from intake's event: wait for most of them.
    search = net.services["search"].url
    deadline = time.monotonic() + 60
    for station in stations.values():
        token = net.token(station.id, ["station_lead"], f"seed-{station.id}")
        while True:
            async with http.get(
                f"{search}/cases",
                params={"status": "open", "limit": "500"},
                headers=_headers(token),
            ) as answer:
                cases = await answer.json() if answer.status == 200 else []
            station.cases = [c["id"] for c in cases]
            if len(station.cases) >= per_station or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    return stations


async def seed_others(net, http: aiohttp.ClientSession, stations: dict[str, Station]) -> None:
    """The partner agencies in referral's directory, and an identity check with a face
    photo sent to the police agency (its portal then shows it, photo and all)."""
    referral, intake, search = (net.services[s].url for s in ("referral", "intake", "search"))
    admin = net.token("center", ["admin"], "bench-admin")
    for agency, kind in ((POLICE_AGENCY, "police"), (FEDERATION, "womens_federation")):
        entry = {"name": f"bench {kind}", "partner_type": kind, "jurisdiction_code": "411525"}
        async with http.put(
            f"{referral}/partners/{agency}", json=entry, headers=_headers(admin)
        ) as answer:
            if answer.status != 200:
                raise RuntimeError(f"seeding the partners: referral answered {answer.status}")
    gushi = stations["gushi"]
    if not gushi.persons or not gushi.cases:
        return
    token = net.token("gushi", ["station_staff"], "seed-gushi")
    person_id = gushi.persons[0]
    if FACE_JPEG:
        photo = {
            "kind": "face",
            "image": base64.b64encode(FACE_JPEG).decode(),
            "taken_at": datetime.now(UTC).isoformat(),
        }
        async with http.post(
            f"{intake}/persons/{person_id}/photos",
            json=photo,
            headers=_headers(token, idempotent=True),
        ) as answer:
            out(f"  a face photo for the police check ({answer.status})")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # search holds it once intake has shared it
            async with http.get(
                f"{search}/intake-photos", params={"person_id": person_id}, headers=_headers(token)
            ) as answer:
                if answer.status == 200 and await answer.json():
                    break
            await asyncio.sleep(0.5)
    async with http.get(
        f"{search}/cases", params={"person_id": person_id}, headers=_headers(token)
    ) as answer:
        cases = await answer.json() if answer.status == 200 else []
    if not cases:
        return
    check = {"agency_id": POLICE_AGENCY, "sex": "male", "description": "bench"}
    async with http.post(
        f"{search}/cases/{cases[0]['id']}/police-checks",
        json=check,
        headers=_headers(token, idempotent=True),
    ) as answer:
        out(f"  an identity check for {POLICE_AGENCY} ({answer.status})")


def _headers(token: str, *, idempotent: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if idempotent:
        headers["Idempotency-Key"] = f"bench-{uuid.uuid4().hex}"
    return headers


# ---- one member of staff ------------------------------------------------------------------


class Staff:
    """One browser: its own connections and cookies, its session's CSRF token."""

    def __init__(
        self, n: int, station: Station, roles: list[str], net, console: str, args, kind="staff"
    ):
        self.n = n
        self.kind = kind  # staff, or one of OTHERS' kinds
        self.station = station
        self.roles = roles
        self.subject = f"bench-{station.id}-{n:02d}"
        self.console = console
        self.origin = {"Origin": console}
        self.net = net
        self.token = net.token(station.id, roles, self.subject)  # for the direct calls
        self.args = args
        self.rng = random.Random(n)
        self.csrf = ""
        self.http: aiohttp.ClientSession | None = None

    async def sign_in(self) -> None:
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies of 127.0.0.1
            connector=aiohttp.TCPConnector(limit=6),  # a browser's per-host connections
            timeout=aiohttp.ClientTimeout(total=30),
        )
        account = "station" if self.kind in ("staff", "coordinator") else self.kind
        async with self.http.get(f"{self.console}/signin?kind={account}") as answer:
            form_csrf = CSRF.search(await answer.text()).group(1)
        home = {"partner": "/partner", "town": "/revisits/town"}.get(account, "/board")
        form = {"csrf": form_csrf, "kind": account, "subject": self.subject, "next": home}
        if account == "partner":
            form.update(agency_id=self.station.id, partner_type=self.roles[1])
        elif account == "town":
            form["area_code"] = self.station.id
        else:
            form.update(station_id=self.station.id, roles=self.roles)
        async with self.http.post(
            f"{self.console}/signin",
            data=_form(form),
            headers=self.origin,
            allow_redirects=False,
        ) as answer:
            if answer.status != 303:
                raise RuntimeError(f"sign-in of {self.subject}: {answer.status}")
        async with self.http.get(f"{self.console}{home}") as answer:
            self.csrf = CSRF.search(await answer.text()).group(1)

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()

    # -- timing --

    async def page(
        self, figures: Figures, name: str, path: str, binary: bool = False, **headers
    ) -> str | None:
        """A page (or a download, an image: ``binary``), timed to its whole answer."""
        started = time.perf_counter()
        try:
            async with self.http.get(
                self.console + path, headers=headers, allow_redirects=False
            ) as answer:
                if binary:
                    await answer.read()
                    text = ""
                else:
                    text = await answer.text()
                ms = 1000 * (time.perf_counter() - started)
                if answer.status != 200:
                    figures.error(name, f"{answer.status} {path}", started)
                    return None
        except (aiohttp.ClientError, TimeoutError) as exc:
            figures.error(name, f"{type(exc).__name__} {path}", started)
            return None
        figures.add("console", "page", name, started, ms)
        return text

    async def action(self, figures: Figures, name: str, path: str, form: dict) -> str | None:
        """A form's POST; the redirect's target (the browser's next page)."""
        started = time.perf_counter()
        try:
            async with self.http.post(
                self.console + path, data=_form(form), headers=self.origin, allow_redirects=False
            ) as answer:
                await answer.read()
                ms = 1000 * (time.perf_counter() - started)
                if answer.status != 303:
                    figures.error(name, f"{answer.status} {path}", started)
                    return None
                target = answer.headers.get("Location", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            figures.error(name, f"{type(exc).__name__} {path}", started)
            return None
        figures.add("console", "action", name, started, ms)
        return target

    async def direct(self, figures: Figures, kind: str, name: str, calls: list) -> None:
        """The console's service calls for this step, straight, in parallel."""

        async def one(method: str, service: str, path: str, params=None, body=None):
            headers = _headers(self.token, idempotent=method == "POST")
            url = self.net.services[service].url + path
            began = time.perf_counter()
            async with self.http.request(
                method, url, params=params, json=body, headers=headers
            ) as answer:
                await answer.read()
            if figures.begin <= began < figures.end:
                call = f"{service} {method} {UUID.sub('{id}', path)}"
                figures.calls.setdefault(call, []).append(1000 * (time.perf_counter() - began))
            return answer.status

        started = time.perf_counter()
        try:
            statuses = await asyncio.gather(*(one(*call) for call in calls))
        except (aiohttp.ClientError, TimeoutError) as exc:
            figures.error(f"direct {name}", type(exc).__name__, started)
            return
        ms = 1000 * (time.perf_counter() - started)
        if any(s >= 500 for s in statuses):
            figures.error(f"direct {name}", f"{statuses}", started)
            return
        figures.add("direct", kind, name, started, ms)

    def directly(self) -> bool:
        return self.rng.random() < self.args.direct_share

    # -- the work --

    async def work(self, figures: Figures, stop_at: float, has_cases: bool) -> None:
        if self.kind != "staff":
            return await self.other_work(figures, stop_at)
        steps = [w for w in WORK if has_cases or w != "case"]
        # the center's pages are its coordinator's daily work, not the satellites'
        weights = [WORK[w] * (8 if self.own_page(w) else 1) for w in steps]
        await asyncio.sleep(self.rng.uniform(0, self.args.think[1]))  # not all at once
        while time.perf_counter() < stop_at:
            step = self.rng.choices(steps, weights)[0]
            if step in PART_TWO:
                await self.part_two(figures, step)
            else:
                await getattr(self, "do_" + step.replace(" + ", "_").replace(" ", "_"))(figures)
            await asyncio.sleep(self.rng.uniform(*self.args.think))

    async def other_work(self, figures: Figures, stop_at: float) -> None:
        """A coordinator, a partner agency or a town official at its own pages."""
        work = OTHER_WORK[self.kind]
        think = self.args.center_think if self.kind == "coordinator" else self.args.think
        await asyncio.sleep(self.rng.uniform(0, think[1]))
        while time.perf_counter() < stop_at:
            step = self.rng.choices(list(work), list(work.values()))[0]
            if step == "center":
                await self.page(figures, "center", "/center")
            elif step == "summary":
                await self.page(figures, "summary", "/summary")
            elif step == "summary export":
                await self.page(figures, "summary export", "/summary.xlsx", binary=True)
            elif step == "partner":
                text = await self.page(figures, "partner", "/partner")
                found = PHOTO_SRC.search(text or "")
                if found:  # the browser then loads the check's photo through the console
                    src = html.unescape(found.group(1))
                    await self.page(figures, "partner photo", src, binary=True)
            elif step == "town":
                await self.page(figures, "town", "/revisits/town")
            await asyncio.sleep(self.rng.uniform(*think))

    def own_page(self, step: str) -> bool:
        role = PART_TWO.get(step, (None, None))[1]
        return role is not None and role in self.roles

    async def part_two(self, figures: Figures, step: str) -> None:
        """A page of part 2; the center's pages are its coordinator's (others: the board)."""
        path, role = PART_TWO[step]
        if role and role not in self.roles:
            return await self.do_board(figures)
        await self.page(figures, step, path)

    async def do_board(self, figures: Figures) -> None:
        await self.page(figures, "board", "/board")
        if self.directly():
            await self.direct(figures, "page", "board", BOARD_CALLS)

    async def do_board_panels(self, figures: Figures) -> None:
        await self.page(figures, "board panels", "/board/panels", **{"HX-Request": "true"})
        if self.directly():
            await self.direct(figures, "page", "board panels", BOARD_CALLS)

    def a_person(self) -> str | None:
        return self.rng.choice(self.station.persons) if self.station.persons else None

    async def person_page(self, figures: Figures, person_id: str) -> str | None:
        text = await self.page(figures, "person", f"/persons/{person_id}")
        if self.directly():
            await self.direct(figures, "page", "person", person_calls(person_id))
        return text

    async def do_person(self, figures: Figures) -> None:
        person_id = self.a_person()
        if person_id:
            await self.person_page(figures, person_id)

    async def do_admission_form_admission(self, figures: Figures) -> None:
        text = await self.page(figures, "admission form", "/admissions/new")
        if text is None:
            return
        i = self.rng.randrange(1000)
        body = admission_body(i)
        form = {
            "csrf": self.csrf,
            "idempotency_key": KEY.search(text).group(1),
            "arrival_route": body["arrival_route"],
            "sex": body["sex"],
            "estimated_age": str(body["estimated_age"]),
            "dialect": body["dialect"],
            "stated_names": self.rng.choice(NAMES),
            "stated_places": self.rng.choice(PLACES_SAID),
        }
        target = await self.action(figures, "admission", "/admissions", form)
        if target and (found := PERSON.search(target)):
            self.station.persons.append(found.group(1))
            await self.person_page(figures, found.group(1))
        if self.directly():
            direct_body = {**body, "stated_names": [form["stated_names"]]}
            await self.direct(
                figures, "action", "admission", [("POST", "intake", "/persons", None, direct_body)]
            )

    async def do_discharge(self, figures: Figures) -> None:
        # Keep the station's population: discharge only above the seeded number.
        if len(self.station.persons) <= self.args.persons:
            return await self.do_person(figures)
        person_id = self.station.persons.pop(self.rng.randrange(len(self.station.persons)))
        text = await self.person_page(figures, person_id)
        if text is None:
            return
        keys = KEY.findall(text)  # the discharge form's key comes first on the page
        form = {
            "csrf": self.csrf,
            "idempotency_key": keys[0] if keys else str(uuid.uuid4()),
            "reason": "left",
            "note": "本人要求离站",
        }
        await self.action(figures, "discharge", f"/persons/{person_id}/discharge", form)
        if self.directly() and len(self.station.persons) > self.args.persons:
            other = self.station.persons.pop(self.rng.randrange(len(self.station.persons)))
            await self.direct(
                figures,
                "action",
                "discharge",
                [("POST", "intake", f"/persons/{other}/discharge", None, DIRECT_DISCHARGE)],
            )

    async def do_hospital_placements(self, figures: Figures) -> None:
        await self.page(figures, "hospital placements", "/hospital-placements")
        if self.directly():
            await self.direct(
                figures, "page", "hospital placements", [("GET", "intake", "/hospital-placements")]
            )

    async def do_case(self, figures: Figures) -> None:
        if not self.station.cases:
            return await self.do_person(figures)
        case_id = self.rng.choice(self.station.cases)
        await self.page(figures, "case", f"/cases/{case_id}")
        if self.directly():
            await self.direct(figures, "page", "case", case_calls(case_id))

    async def do_place_suggestion(self, figures: Figures) -> None:
        said = self.rng.choice(PLACES_SAID)
        path = f"/suggest/places?field=stated_places&stated_places={quote(said)}"
        await self.page(figures, "place suggestion", path, **{"HX-Request": "true"})
        if self.directly():
            await self.direct(
                figures,
                "page",
                "place suggestion",
                [("GET", "search", "/places", {"q": said, "limit": "8"})],
            )


DIRECT_DISCHARGE = {"reason": "left", "note": "本人要求离站"}
# The board's fan-out, as rescue_console.board makes it.
BOARD_CALLS = [
    ("GET", "intake", "/station/persons"),
    ("GET", "search", "/cases", {"status": "open", "limit": "500"}),
    ("GET", "search", "/review-queue", {"limit": "500"}),
    ("GET", "followup", "/revisits/overdue", {"limit": "500"}),
    ("GET", "search", "/tasks", {"limit": "2000"}),
    ("GET", "intake", "/station/outsourced-care", {"overdue": "true"}),
]


def person_calls(person_id: str) -> list:
    return [
        ("GET", "intake", f"/persons/{person_id}"),
        ("GET", "intake", f"/persons/{person_id}/timeline"),
        ("GET", "intake", f"/persons/{person_id}/photos"),
        ("GET", "search", "/cases", {"person_id": person_id}),
    ]


def case_calls(case_id: str) -> list:
    base = f"/cases/{case_id}"
    return [
        ("GET", "search", base),
        ("GET", "search", f"{base}/tasks"),
        ("GET", "search", f"{base}/clues"),
        ("GET", "search", f"{base}/notices"),
        ("GET", "search", f"{base}/protection"),
        ("GET", "search", f"{base}/police"),
        ("GET", "search", "/earlier-stay-suggestions", {"case_id": case_id}),
        ("GET", "search", "/earlier-stay-suggestions", {"case_id": case_id, "status": "accepted"}),
        ("GET", "search", "/review-queue", {"case_id": case_id}),
    ]


def _form(fields: dict) -> list[tuple[str, str]]:
    """An urlencoded form's pairs, a list value as repeated names (checkboxes)."""
    pairs = []
    for name, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append((name, one))
    return pairs


# ---- the run --------------------------------------------------------------------------------


async def measure(net, console_url: str, console_pid: int, args) -> dict:
    async with aiohttp.ClientSession() as http:
        # search builds its gazetteer on the first place asked (seconds): not in the figures.
        token = net.token("gushi", ["station_staff"], "bench-warm")
        async with http.get(
            net.services["search"].url + "/places",
            params={"q": "固始"},
            headers=_headers(token),
            timeout=aiohttp.ClientTimeout(total=240),
        ) as answer:
            out(f"gazetteer ready ({answer.status})")
        out(f"seeding {args.persons} persons in station per station …")
        stations = await seed(net, http, args.persons)
        for s in stations.values():
            out(f"  {s.id}: {len(s.persons)} persons, {len(s.cases)} open cases")
        async with http.get(f"{console_url}/cases/{uuid.uuid4()}", allow_redirects=False) as probe:
            # Without a session: the sign-in's redirect where there is such a page.
            has_cases = probe.status != 404
        if args.others:
            await seed_others(net, http, stations)
    staff = [
        Staff(n, stations[sid], roles, net, console_url, args)
        for n, (sid, roles) in enumerate(STAFF[: args.staff])
    ]
    while len(staff) < args.staff:  # more than the roster: more station staff at each station
        sid = list(stations)[len(staff) % len(stations)]
        staff.append(Staff(len(staff), stations[sid], ["station_staff"], net, console_url, args))
    for kind, account, roles in OTHERS if args.others else ():
        where = stations.get(account) or Station(account)
        staff.append(Staff(len(staff), where, roles, net, console_url, args, kind=kind))
    figures = Figures()
    try:
        await asyncio.gather(*(s.sign_in() for s in staff))
        out(
            f"{len(staff)} accounts signed in ({args.staff} staff at {len(stations)} stations, "
            f"{len(staff) - args.staff} coordinators, partners and towns); case pages: "
            f"{'yes' if has_cases else 'not in this console'}; warm-up {args.warmup:g} s"
        )
        figures.begin = time.perf_counter() + args.warmup
        figures.end = figures.begin + args.seconds
        meter = CpuMeter(
            lambda: {**network_processes(net), "console": [console_pid]},
        )

        async def window() -> tuple[dict, float]:
            await asyncio.sleep(figures.begin - time.perf_counter())
            meter.start()
            out(f"measuring for {args.seconds:g} s (load average {os.getloadavg()[0]:.1f}) …")
            await asyncio.sleep(figures.end - time.perf_counter())
            return meter.stop()

        (used, wall), *_ = await asyncio.gather(
            window(), *(s.work(figures, figures.end, has_cases) for s in staff)
        )
    finally:
        await asyncio.gather(*(s.close() for s in staff))
    return report(figures, used, wall, args, has_cases)


def report(figures: Figures, used: dict, wall: float, args, has_cases: bool) -> dict:
    results: dict = {"staff": args.staff, "seconds": args.seconds, "types": {}}
    out("")
    out(
        f"console latency, {args.staff} staff, {args.seconds:g} s measured, think "
        f"{args.think[0]:g}–{args.think[1]:g} s; direct: the same calls to the services"
    )
    out(
        f"  {'kind':<7} {'type':<20} {'count':>6} {'p50':>7} {'p95':>7} {'p99':>7}"
        f"   {'direct n':>8} {'p50':>7} {'p95':>7}   {'×p50':>5} {'×p95':>5}"
    )
    for kind in ("page", "action"):
        for (k, name), ms in sorted(figures.console.items()):
            if k != kind:
                continue
            c = stats(ms)
            row = (
                f"  {kind:<7} {name:<20} {c['count']:>6} "
                f"{c['p50']:>7.1f} {c['p95']:>7.1f} {c['p99']:>7.1f}"
            )
            d_ms = figures.direct.get((kind, name))
            entry = {"console": c}
            if d_ms:
                d = stats(d_ms)
                entry["direct"] = d
                entry["ratio_p50"] = c["p50"] / d["p50"]
                entry["ratio_p95"] = c["p95"] / d["p95"]
                row += (
                    f"   {d['count']:>8} {d['p50']:>7.1f} {d['p95']:>7.1f}"
                    f"   {entry['ratio_p50']:>5.2f} {entry['ratio_p95']:>5.2f}"
                )
            else:
                row += f"   {'—':>8}"
            results["types"][f"{kind}: {name}"] = entry
            out(row)
    targets = {"page": PAGE_TARGET_P95_MS, "action": ACTION_TARGET_P95_MS}
    for kind, target in targets.items():
        ms = [v for (k, _), values in figures.console.items() if k == kind for v in values]
        if not ms:
            out(f"  {kind}s: none measured")
            continue
        s = stats(ms)
        results[f"{kind}s"] = {**s, "target_p95_ms": target}
        results[f"{kind}s"]["verdict"] = verdict(s["p95"], target, at_most=True)
        out(
            f"  all {kind}s: {s['count']} in {args.seconds:g} s, p50 {s['p50']:.1f} ms, "
            f"p95 {s['p95']:.1f} ms, p99 {s['p99']:.1f} ms; target p95 ≤ {target:g} ms: "
            f"{results[f'{kind}s']['verdict']}"
        )
    out("  each service call alone (direct), ms:")
    for call, ms in sorted(figures.calls.items()):
        c = stats(ms)
        out(f"    {call:<48} {c['count']:>5} p50 {c['p50']:>7.1f} p95 {c['p95']:>7.1f}")
    results["calls"] = {call: stats(ms) for call, ms in figures.calls.items()}
    total_errors = sum(figures.errors.values())
    results["errors"] = figures.errors
    out(f"  errors: {total_errors}" + (f" {figures.errors}" if figures.errors else ""))
    for sample in figures.error_samples:
        out(f"    {sample}")
    cores = os.cpu_count() or 1
    out(f"CPU while measured ({wall:.1f} s), in cores of {cores}:")
    for name, seconds in sorted(used.items(), key=lambda kv: -kv[1]):
        out(f"  {name:<16} {seconds / wall:>5.2f}")
    out(f"  {'all':<16} {sum(used.values()) / wall:>5.2f}")
    requests = sum(len(v) for v in figures.console.values()) + sum(
        len(v) for v in figures.direct.values()
    )
    if requests:
        out(f"  {1000 * sum(used.values()) / requests:.0f} ms of CPU per step measured (all)")
    # Others' work on the same cores: a load above the cores is time these processes wait.
    out(f"machine load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    results["load_average"] = os.getloadavg()
    results["cpu_cores"] = {name: seconds / wall for name, seconds in used.items()}
    return results


def main(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        net = console = None
        try:
            out("starting postgres, tansu and the five services …")
            net = a_network(Path(tmp))
            console, url = start_console(net, Path(tmp))
            out(f"console up at {url}")
            return asyncio.run(measure(net, url, console.pid, args))
        finally:
            if console is not None:
                console.terminate()
                console.wait(timeout=10)
            if net is not None:
                net.down()


def think_range(text: str) -> tuple[float, float]:
    low, high = (float(x) for x in text.split(","))
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError("think: LOW,HIGH seconds with 0 ≤ LOW ≤ HIGH")
    return low, high


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--staff", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds not measured")
    parser.add_argument(
        "--think", type=think_range, default=(2.0, 8.0), help="LOW,HIGH seconds between steps"
    )
    parser.add_argument("--persons", type=int, default=30, help="persons in station per station")
    parser.add_argument(
        "--center-think",
        type=think_range,
        default=(1.0, 4.0),
        help="LOW,HIGH seconds between the center coordinators' steps",
    )
    parser.add_argument(
        "--no-others",
        dest="others",
        action="store_false",
        help="only the staff: no coordinators, partners or towns beyond them",
    )
    parser.add_argument(
        "--direct-share",
        type=float,
        default=0.3,
        help="share of steps followed by the same calls straight to the services",
    )
    emit(main(parser.parse_args()))

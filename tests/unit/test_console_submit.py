"""A form posted to a service, once for every form (rescue_console.web.submit): taken,
a 303 to where the page says what happened; refused, the form again with the key it
must be shown with and the words above it."""

from __future__ import annotations

from types import SimpleNamespace

from rescue_console.services import Answer
from rescue_console.web import Refused, submit

AWAY = "服务暂时不可用"


class FakeServices:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.sent: list[tuple] = []

    async def call(self, token, service, method, path, *, json=None, headers=None, **_):
        self.sent.append((token, service, method, path, json, headers))
        return self.answer


def console_answering(answer: Answer):
    return SimpleNamespace(services=FakeServices(answer), sessions=None)


USER = SimpleNamespace(token="t0ken", id="u1")


async def test_a_taken_form_goes_where_done_says_with_its_key():
    console = console_answering(Answer(201, {"id": "r-1"}))
    response = await submit(
        None, console, USER, "referral", "/referrals", {"reason": "minor"}, "key-1",
        done=lambda answer: f"/referrals/{answer.body['id']}", again=None,
    )  # fmt: skip
    assert (response.status_code, response.headers["location"]) == (303, "/referrals/r-1")
    ((token, service, method, path, body, headers),) = console.services.sent
    assert (token, service, method, path) == ("t0ken", "referral", "POST", "/referrals")
    assert body == {"reason": "minor"} and headers == {"Idempotency-Key": "key-1"}


async def test_an_async_done_runs_before_the_redirect():
    ran = []

    async def done(answer):
        ran.append(answer.status)
        return "/partner?answered=check"

    console = console_answering(Answer(200, {}))
    response = await submit(None, console, USER, "search", "/x", {}, "k", done=done, again=None)
    assert ran == [200] and response.headers["location"] == "/partner?answered=check"


async def test_a_refused_form_is_shown_again_with_the_refusal():
    seen = []

    async def again(refused: Refused):
        seen.append(refused)
        return "the form again"

    console = console_answering(Answer(422, {"errors": [{"field": "reason", "reason": "x"}]}))
    shown = await submit(None, console, USER, "referral", "/r", {}, "k", done="/", again=again)
    assert shown == "the form again"
    assert seen[0].answer.status == 422 and seen[0].sent == "k"


async def test_a_404_is_a_refusal_when_nothing_is_missing():
    console = console_answering(Answer(404, {"detail": "no such task"}))
    shown = await submit(
        None, console, USER, "followup", "/t", {}, "k", done="/", again=lambda r: r, missing=None
    )
    assert isinstance(shown, Refused) and shown.answer.status == 404


def test_the_key_is_kept_only_when_the_outcome_is_unknown():
    assert Refused(Answer(0), "k").key == "k"
    assert Refused(Answer(503), "k").key == "k"
    fresh = Refused(Answer(403), "k").key
    assert fresh != "k" and fresh != Refused(Answer(403), "k").key


def test_the_status_shown_names_the_field_or_repeats_the_service():
    assert Refused(Answer(409), "k").status == 409
    assert Refused(Answer(0), "k").status == 503
    assert Refused(Answer(409), "k", errors={"reason": ["已有"]}).status == 422


def test_the_words_above_the_form():
    def said(answer: Answer, **words) -> list[str]:
        refused = Refused(answer, "k")
        refused.explain(AWAY, {403: "无权办理", 409: lambda a: f"冲突：{a.detail}"}, **words)
        return refused.general

    assert said(Answer(0)) == [AWAY]
    assert said(Answer(403)) == ["无权办理"]
    assert said(Answer(409, {"detail": "closed"})) == ["冲突：closed"]
    assert said(Answer(400, {"detail": "bad"}), refused="离站未被接受") == ["离站未被接受：bad"]
    assert said(Answer(418)) == ["未被接受：418"]


def test_nothing_more_is_said_when_a_field_is_named():
    refused = Refused(Answer(422), "k", errors={"reason": ["请选择"]})
    refused.explain(AWAY, {403: "无权办理"})
    assert refused.general == []

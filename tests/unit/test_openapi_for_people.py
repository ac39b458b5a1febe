"""The services' OpenAPI documents are written for people (issue 31): readable,
stable operationIds, summaries from the docstrings, the problem answers each
operation can really give, an example per media type, one version."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator

from rescue_chassis import api_contracts, limits, openapi, problems
from rescue_events import schemas
from rescue_events.compat import CONTRACTS_VERSION, operations

SERVICES = ("intake", "search", "transfer", "referral", "followup")


@pytest.fixture(scope="module")
def documents() -> dict[str, dict]:
    return api_contracts.openapi_documents(SERVICES)


def test_operation_ids_are_camel_case_names_unique_in_each_document(documents):
    for service, document in documents.items():
        ids = [op["operationId"] for _, _, op in operations(document)]
        assert len(ids) == len(set(ids)), service
        assert [i for i in ids if not re.fullmatch(r"[a-z][A-Za-z0-9]*", i)] == [], service
    intake = documents["intake"]["paths"]
    assert intake["/persons"]["post"]["operationId"] == "admitPerson"
    replay = "/ops/dead-letters/{dead_letter_id}/replay"
    assert {d["paths"][replay]["post"]["operationId"] for d in documents.values()} == {
        "replayDeadLetter"
    }


def test_two_routes_of_one_name_get_ids_saying_where_they_are():
    app = FastAPI(generate_unique_id_function=openapi.operation_id)

    @app.get("/returns")
    async def listing() -> list[str]:
        return []

    async def listing_escorts() -> list[str]:
        return []

    app.add_api_route("/escorts", listing_escorts, name="listing", methods=["GET"])
    openapi.install(app)
    with pytest.warns(UserWarning, match="Duplicate Operation ID"):  # FastAPI's own warning
        document = app.openapi()
    ids = {path: item["get"]["operationId"] for path, item in document["paths"].items()}
    assert ids == {"/returns": "listingGetReturns", "/escorts": "listingGetEscorts"}


def test_summaries_come_from_the_docstrings_not_the_function_names(documents):
    titles = []
    for service, document in documents.items():
        for path, method, operation in operations(document):
            default = operation["operationId"]  # FastAPI's would be "Admit Person"
            words = re.sub(r"([A-Z])", r" \1", default).title()
            if " " in words and operation["summary"] == words:  # one word reads alike
                titles.append(f"{service} {method} {path}")
            assert 0 < len(operation["summary"]) <= openapi.SUMMARY_MAX + 1
    assert titles == []
    intake = documents["intake"]["paths"]
    assert (
        intake["/persons"]["post"]["summary"] == "Admit a person to the caller's station (入站登记)"
    )
    assert intake["/health/live"]["get"]["summary"] == (
        "The process answers (the liveness probe): nothing else is checked"
    )


@pytest.mark.parametrize(
    ("docstring", "summary"),
    [
        (None, "Get lead"),
        ("Who goes out. A new assignment replaces the last.", "Who goes out"),
        ("Ask (e.g. the police. Or not) first.\n\nMore.", "Ask (e.g. the police. Or not) first"),
        (
            "Walks this service's chain and recomputes every hash: ``ok``, or the first\n"
            "position that does not verify and why.",
            "Walks this service's chain and recomputes every hash",
        ),
        (
            "Search cases of the caller's station (the center sees all); `overdue=true` for\n"
            "cases whose family-search notice is past due.",
            "Search cases of the caller's station (the center sees all)",
        ),
        (
            "Events waiting to be published (per topic too), those kept after publishing,\n"
            "and what the relay knows of the broker.",
            "Events waiting to be published, those kept after publishing, and what the relay "
            "knows of the broker",
        ),
    ],
)
def test_a_summary_is_the_first_sentence_cut_to_its_main_clause(docstring, summary):
    assert openapi.summary_of(docstring, "get_lead") == summary


def responses(document: dict, path: str, method: str) -> set[str]:
    return set(document["paths"][path][method]["responses"])


def test_error_answers_are_those_the_operation_can_give(documents):
    intake = documents["intake"]
    assert responses(intake, "/health/live", "get") == {"200"}
    assert responses(intake, "/health/ready", "get") == {"200", "503"}
    ready = intake["paths"]["/health/ready"]["get"]["responses"]["503"]
    assert "application/json" in ready["content"]  # the probe's own body, not a problem
    # a token, no parameters: no 404, 422, 409 or 415
    assert responses(intake, "/ops/outbox", "get") == {"200", "401", "403", "429", "431", "503"}
    one = responses(intake, "/persons/{person_id}", "get")
    assert {"400", "401", "403", "404", "414", "422"} <= one
    assert not one & {"409", "413", "415"}
    admit = responses(intake, "/persons", "post")  # a body and an Idempotency-Key
    assert {"401", "403", "409", "413", "415", "422", "429", "503"} <= admit
    assert "404" not in admit and "400" not in admit
    listing = responses(intake, "/persons", "get")
    assert "422" in listing and not listing & {"404", "409", "415"}
    # the route's own words are kept: the consumer-less service's 404
    lag = intake["paths"]["/ops/consumer-lag"]["get"]["responses"]["404"]
    assert lag["description"] == "This service consumes no events."
    assert problems.PROBLEM_JSON in lag["content"]
    counts = {
        len([s for s in op["responses"] if not s.startswith("2")])
        for document in documents.values()
        for _, _, op in operations(document)
    }
    assert len(counts) > 3  # not the same list everywhere


def test_the_chassis_knows_which_paths_pass_the_limits():
    assert problems.UNLIMITED_PREFIXES == limits.EXEMPT_PREFIXES


def test_every_problem_answer_has_a_valid_example(documents):
    for document in documents.values():
        problem = Draft202012Validator(document["components"]["schemas"]["Problem"])
        answers = document["components"]["responses"]
        for status, answer in problems._PROBLEM_RESPONSES.items():
            example = answers[answer.name]["content"][problems.PROBLEM_JSON]["example"]
            assert example["status"] == status
            assert list(problem.iter_errors(example)) == []
        assert answers["ValidationError"]["content"][problems.PROBLEM_JSON]["example"]["errors"]


def examples(document: dict):
    """(where, schema, example) of every media type carrying an example."""
    for path, method, operation in operations(document):
        bodies = [("request", operation.get("requestBody", {}))]
        bodies += [(status, r) for status, r in operation["responses"].items() if "$ref" not in r]
        for status, body in bodies:
            for media, spec in body.get("content", {}).items():
                if "example" in spec and "schema" in spec:
                    yield f"{method} {path} {status} {media}", spec["schema"], spec["example"]


def test_request_bodies_have_examples_built_from_their_fields_and_valid(documents):
    admit = documents["intake"]["paths"]["/persons"]["post"]["requestBody"]["content"]
    example = admit["application/json"]["example"]
    assert example["stated_names"] == ["王建国", "老王"] and example["sex"] == "male"
    checked = 0
    for document in documents.values():
        for where, schema, example in examples(document):
            validator = Draft202012Validator({**schema, "components": document["components"]})
            assert [e.message for e in validator.iter_errors(example)] == [], where
            checked += 1
    assert checked > 60  # request bodies whose fields carry examples, and a few answers


def test_every_contract_says_one_version():
    assert CONTRACTS_VERSION == "1.0.0"
    assert schemas.asyncapi()["info"]["version"] == CONTRACTS_VERSION


def test_every_service_document_says_the_contracts_version(documents):
    assert {d["info"]["version"] for d in documents.values()} == {CONTRACTS_VERSION}

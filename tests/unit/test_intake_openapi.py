"""Intake's OpenAPI document describes every field a station app sends, with a
description and an example (issue 3): the app's developers work from it."""

from __future__ import annotations

import pytest
from support import JWT_SECRET

from intake.app import service
from intake.settings import IntakeSettings
from rescue_chassis.app import create_app


@pytest.fixture(scope="module")
def openapi() -> dict:
    settings = IntakeSettings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        kafka_bootstrap_servers="127.0.0.1:1",
        jwt_secret=JWT_SECRET,
    )
    return create_app(service, settings).openapi()


def request_schemas(openapi: dict) -> set[str]:
    """The schemas of request bodies, and the schemas they refer to."""
    names: set[str] = set()
    schemas = openapi["components"]["schemas"]

    def visit(node) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref:
                name = ref.rsplit("/", 1)[-1]
                if name not in names:
                    names.add(name)
                    visit(schemas[name])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for path in openapi["paths"].values():
        for operation in path.values():
            visit(operation.get("requestBody", {}))
    return names


def test_every_request_field_has_a_description_and_an_example(openapi):
    schemas = openapi["components"]["schemas"]
    missing = []
    for name in sorted(request_schemas(openapi)):
        for field, spec in schemas[name].get("properties", {}).items():
            has_example = (
                "examples" in spec
                or "example" in spec
                or "$ref" in str(spec)
                or (spec.get("type") == "boolean")
            )
            if "description" not in spec:
                missing.append(f"{name}.{field}: description")
            if not has_example and "enum" not in str(spec):
                missing.append(f"{name}.{field}: example")
    assert missing == []

"""The OpenAPI document written for people (issue 31), for every service at once.

- **operationIds** from the route function's name in camelCase (``replayDeadLetter``),
  unique within a document; they are part of the contract (clients are generated
  from them), so ``rescue_events.compat`` fails a change of one.
- **Summaries** from the first sentence of the route's docstring, not the function
  name; a route without a docstring gets its name as a sentence.
- **Examples** per media type: request and response bodies whose fields carry
  examples get one built from them (problem answers have theirs in
  ``rescue_chassis.problems``).
- **One version**: ``rescue_events.compat.CONTRACTS_VERSION``, as the AsyncAPI document.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from rescue_chassis.problems import served_routes

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
SUMMARY_SHORT = 80  # characters: a longer sentence is cut to its main clause
SUMMARY_MAX = 120  # characters; the whole docstring stays the description
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.")


def operation_id(route: APIRoute) -> str:
    """FastAPI's ``generate_unique_id_function``: ``replay_dead_letter`` → ``replayDeadLetter``."""
    return camel(route.name)


def camel(name: str) -> str:
    first, *rest = [part for part in re.split(r"[^0-9A-Za-z]+", name) if part] or ["operation"]
    return first[:1].lower() + first[1:] + "".join(p[:1].upper() + p[1:] for p in rest)


def summary_of(docstring: str | None, name: str) -> str:
    """The first sentence of the docstring's first paragraph, shortened to its main
    clause when long; or the function's name as words."""
    text = inspect.cleandoc(docstring or "").split("\f", 1)[0].strip()
    paragraph = " ".join(text.split("\n\n", 1)[0].split())
    if not paragraph:
        words = " ".join(p for p in name.split("_") if p)
        return words[:1].upper() + words[1:] or "Operation"
    sentence = _first_sentence(paragraph.replace("``", "`"))
    if len(sentence) > SUMMARY_SHORT:
        sentence = _main_clause(sentence)
    if len(sentence) > SUMMARY_SHORT:
        sentence = " ".join(_outside_brackets(sentence).split()).replace(" ,", ",")
    if len(sentence) > SUMMARY_MAX:
        sentence = sentence[:SUMMARY_MAX].rsplit(" ", 1)[0].rstrip(",;:(") + "…"
    return sentence


def _depths(text: str):
    depth = 0
    for index, char in enumerate(text):
        if char in "([（":
            depth += 1
        elif char in ")]）":
            depth = max(0, depth - 1)
        yield index, char, depth


def _first_sentence(text: str) -> str:
    for index, char, depth in _depths(text):
        if char in ".!?。" and depth == 0:
            after = text[index + 1 : index + 2]
            if char != "。" and after not in ("", " "):
                continue
            if any(text[: index + 1].endswith(a) for a in _ABBREVIATIONS):
                continue
            return text[:index] if char == "." else text[: index + 1]
    return text.rstrip(".")


def _main_clause(sentence: str) -> str:
    """Up to the first colon or semicolon outside brackets that leaves a clause."""
    for index, char, depth in _depths(sentence):
        if char in ":;" and depth == 0 and index >= 25:
            return sentence[:index]
    return sentence


def _outside_brackets(sentence: str) -> str:
    return "".join(c for _, c, depth in _depths(sentence) if depth == 0 and c not in ")]）")


# ---- examples from the fields' examples -----------------------------------------

_NO_EXAMPLE = object()


def example_of(schema: Any, root: Mapping[str, Any], depth: int = 0) -> Any:
    """A value of ``schema`` made of its fields' own examples (defaults, enum values
    where none); ``_NO_EXAMPLE`` when a required field has none, so no half example."""
    if depth > 8 or not isinstance(schema, Mapping):
        return _NO_EXAMPLE
    for key in ("examples", "example"):
        if key in schema:
            value = schema[key]
            if key == "examples":
                if not isinstance(value, list) or not value:
                    continue
                value = value[0]
            return value
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return example_of(target, root, depth + 1)
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            for option in schema[key]:
                if option.get("type") == "null":
                    continue
                value = example_of(option, root, depth + 1)
                if value is not _NO_EXAMPLE:
                    return value
            return _NO_EXAMPLE
    kind = schema.get("type")
    if kind == "boolean":
        return False
    if kind == "array":
        item = example_of(schema.get("items", {}), root, depth + 1)
        if item is _NO_EXAMPLE:
            return _NO_EXAMPLE if schema.get("minItems", 0) > 0 else []
        return [item]
    if kind == "object" or "properties" in schema:
        value = {}
        required = set(schema.get("required", ()))
        for field, spec in schema.get("properties", {}).items():
            found = example_of(spec, root, depth + 1)
            if found is _NO_EXAMPLE:
                if field in required:
                    return _NO_EXAMPLE
                continue
            value[field] = found
        return value
    return _NO_EXAMPLE


def _add_examples(content: dict[str, Any], root: Mapping[str, Any]) -> None:
    for media, spec in content.items():
        if "example" in spec or "examples" in spec or "schema" not in spec:
            continue
        if not (media == "application/json" or media.endswith("+json")):
            continue
        value = example_of(spec["schema"], root)
        if value is not _NO_EXAMPLE and value not in ({}, []):
            spec["example"] = value


# ---- the whole document --------------------------------------------------------


def _routes(app: FastAPI) -> dict[tuple[str, str], Any]:
    found = {}
    for route in served_routes(app):
        if not getattr(route, "include_in_schema", False) or route.path_format is None:
            continue
        for method in route.methods or ():
            found[(route.path_format, method.lower())] = route
    return found


def for_people(schema: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """Summaries, unique operationIds and examples (in place, idempotent)."""
    routes = _routes(app)
    seen: dict[str, list[tuple[str, str]]] = {}
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            route = routes.get((path, method))
            if route is not None and route.summary is None:
                operation["summary"] = summary_of(inspect.getdoc(route.endpoint), route.name)
            seen.setdefault(operation.get("operationId", ""), []).append((path, method))
            if "requestBody" in operation:
                _add_examples(operation["requestBody"].get("content", {}), schema)
            for status, response in operation.get("responses", {}).items():
                if str(status).startswith("2") and "content" in response:
                    _add_examples(response["content"], schema)
    for same, where in seen.items():
        if len(where) > 1:  # two routes of one name: each says where it is
            for path, method in where:
                words = [w for w in re.split(r"[/{}_-]+", path) if w]
                unique = camel("_".join([same, method, *words]))
                schema["paths"][path][method]["operationId"] = unique
    return schema


def install(app: FastAPI) -> None:
    """Post-process the app's document once it is built (after the problem answers)."""
    inner = app.openapi
    done: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = inner()
        if id(schema) not in done:
            for_people(schema, app)
            done[:] = [id(schema)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

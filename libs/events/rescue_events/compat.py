"""Do the contracts still keep the last released ones? (issue 31)

A release is a committed snapshot under ``contracts/released/<version>/``: every
event's JSON Schema and the AsyncAPI document (``events/``), every service's
OpenAPI document (``openapi/``). The contracts in code are compared with the
newest one; a change that would break a partner or an older consumer fails
unless its version is raised:

- an event: a field removed, its type or format changed, an optional field made
  required or a required one optional, a new field required, an enum value
  removed, the event moved to another topic, the event removed. Raise the
  event's version (``name`` v2 beside or instead of v1). A move is marked, not
  broken, when the old topic is registered as retired with the new one among its
  successors (rescue_events.registry: consumers drain it, the AsyncAPI says so).
- an API: a path or operation removed, an operationId changed (clients are
  generated from them: ids are stable), a parameter or request field removed, a
  new required one, an optional one made required, a type changed (a request
  may accept more, a response may say less), an enum value removed, a success
  status or media type removed, a response field removed or made optional.
  Raise the document's major version (``CONTRACTS_VERSION``).

New events, fields (optional), enum values, paths and operations are additive:
they pass. Nothing here imports a service: the OpenAPI documents are built by
``rescue_chassis.api_contracts``, which runs the whole check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: The one version of the network's published contracts: every service's OpenAPI
#: document and the AsyncAPI document say it. Raise the major for a breaking API change.
CONTRACTS_VERSION = "1.0.0"

RELEASED_DIR = Path(__file__).resolve().parents[3] / "contracts" / "released"
EVENTS = "events"
OPENAPI = "openapi"
ASYNCAPI_FILE = "asyncapi.yaml"

_WRITES_FIRST = ("request", "event")  # who must still accept what the old side sent


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def major(version: str) -> int:
    return version_key(version)[0]


# ---- the released snapshot -------------------------------------------------------


@dataclass(frozen=True)
class Release:
    version: str
    events: dict[str, dict[str, Any]]  # file name (name.vN.json) -> JSON Schema
    topics: dict[str, str]  # file name -> the topic the event travels on
    openapi: dict[str, dict[str, Any]]  # service -> OpenAPI document


def released_versions(directory: Path = RELEASED_DIR) -> list[str]:
    if not directory.is_dir():
        return []
    found = [p.name for p in directory.iterdir() if p.is_dir() and _is_version(p.name)]
    return sorted(found, key=version_key)


def _is_version(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 3 and all(p.isdigit() for p in parts)


def last_release(directory: Path = RELEASED_DIR) -> Release:
    versions = released_versions(directory)
    if not versions:
        raise LookupError(f"no release under {directory}")
    return load_release(directory / versions[-1])


def load_release(path: Path) -> Release:
    events = {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((path / EVENTS).glob("*.json"))
    }
    asyncapi_path = path / EVENTS / ASYNCAPI_FILE
    asyncapi = yaml.safe_load(asyncapi_path.read_text(encoding="utf-8")) or {}
    openapi = {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((path / OPENAPI).glob("*.json"))
    }
    return Release(path.name, events, event_topics(asyncapi), openapi)


def event_topics(asyncapi: Mapping[str, Any]) -> dict[str, str]:
    """Schema file name -> topic address, from an AsyncAPI document. A parameterised
    channel (an agency's own topic) re-delivers events, a retired one holds what was
    staged before a move: not where they travel."""
    topics = {}
    for channel in asyncapi.get("channels", {}).values():
        if "{" in channel["address"] or "x-retired" in channel:
            continue
        for message in channel.get("messages", {}).values():
            name = message["$ref"].rsplit("/", 1)[-1]  # person_admitted_v1
            event, _, version = name.rpartition("_v")
            topics[f"{event}.v{version}.json"] = channel["address"]
    return topics


def write_release(
    path: Path,
    event_files: Mapping[str, str],
    openapi: Mapping[str, Mapping[str, Any]],
) -> None:
    """Commit these contracts as a release (a release is never rewritten)."""
    if path.exists():
        raise FileExistsError(f"{path} exists: a release is never rewritten")
    (path / EVENTS).mkdir(parents=True)
    (path / OPENAPI).mkdir()
    for name, content in event_files.items():
        (path / EVENTS / name).write_text(content, encoding="utf-8")
    for service, document in openapi.items():
        text = json.dumps(document, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
        (path / OPENAPI / f"{service}.json").write_text(text, encoding="utf-8")


# ---- events ------------------------------------------------------------------------


def _event_file(name: str) -> tuple[str, int]:
    stem = name.removesuffix(".json")
    event, _, version = stem.rpartition(".v")
    return event, int(version)


def event_breaks(
    released: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Mapping[str, Any]],
    released_topics: Mapping[str, str] | None = None,
    current_topics: Mapping[str, str] | None = None,
    retired: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """What the current event schemas break of the released ones (file name -> schema).

    A move is marked, not broken, when the released topic is retired with the new one
    among its successors (``retired``: topic -> successors): the AsyncAPI document
    says where the events went, and the old topic stays until what was staged for it
    has been read."""
    breaks: list[str] = []
    newest: dict[str, int] = {}
    for name in current:
        event, version = _event_file(name)
        newest[event] = max(version, newest.get(event, 0))
    for name, old in sorted(released.items()):
        event, version = _event_file(name)
        label = f"event {event} v{version}"
        new = current.get(name)
        if new is None:
            if newest.get(event, 0) <= version:
                breaks.append(f"{label}: removed (publish a new version instead)")
            continue
        was = (released_topics or {}).get(name)
        now = (current_topics or {}).get(name)
        if was and now and was != now and now not in (retired or {}).get(was, ()):
            breaks.append(f"{label}: moved from topic {was} to {now}")
        breaks.extend(
            f"{label}: {b}"
            for b in schema_breaks(old, new, direction="event", old_root=old, new_root=new)
        )
    return breaks


# ---- JSON Schema -------------------------------------------------------------------


def _resolve(node: Any, root: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The schema a (local) $ref points to, with the name it had; siblings kept."""
    name = None
    seen = 0
    while isinstance(node, Mapping) and "$ref" in node and seen < 50:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return node, ref  # not ours to follow
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node, name, seen = {**target, **siblings}, ref.rsplit("/", 1)[-1], seen + 1
    return node, name


def _variants(node: Any, root: Mapping[str, Any]) -> list[tuple[dict[str, Any], str | None]]:
    """A schema as the plain alternatives it allows (anyOf/oneOf flattened)."""
    node, name = _resolve(node, root)
    if not isinstance(node, Mapping):
        return []
    for key in ("anyOf", "oneOf"):
        if key in node:
            out = []
            for option in node[key]:
                out.extend(_variants(option, root))
            return out
    if "allOf" in node and len(node["allOf"]) == 1:
        inner = _variants(node["allOf"][0], root)
        rest = {k: v for k, v in node.items() if k != "allOf"}
        return [({**variant, **rest}, n) for variant, n in inner]
    return [(dict(node), name)]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _types(variant: Mapping[str, Any]) -> set[str]:
    declared = variant.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    if "const" in variant:
        return {_json_type(variant["const"])}
    if "enum" in variant:
        return {_json_type(v) for v in variant["enum"]}
    if "properties" in variant or "additionalProperties" in variant:
        return {"object"}
    if "items" in variant:
        return {"array"}
    return set()  # any


def _by_type(variants) -> dict[str, list[tuple[dict[str, Any], str | None]]]:
    out: dict[str, list] = {}
    for variant, name in variants:
        for t in _types(variant) or {"any"}:
            out.setdefault(t, []).append((variant, name))
    return out


def _covers(wide: set[str], narrow: set[str]) -> bool:
    if "any" in wide:
        return True
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _shown(types: set[str]) -> str:
    return " | ".join(sorted(types)) or "any"


def schema_breaks(
    old: Any,
    new: Any,
    *,
    direction: str,
    old_root: Mapping[str, Any],
    new_root: Mapping[str, Any] | None = None,
    where: str = "",
) -> list[str]:
    """What ``new`` breaks of ``old``. ``direction``: "request" (clients send it:
    it may accept more), "response" (clients read it: it may say less) or
    "event" (stored and read by old and new code alike: neither)."""
    out: list[str] = []
    _compare(old, new, where, direction, old_root, new_root or old_root, out, set())
    return out


def _compare(old, new, where, direction, old_root, new_root, out, seen) -> None:
    old_variants = _variants(old, old_root)
    new_variants = _variants(new, new_root)
    old_types = set(_by_type(old_variants))
    new_types = set(_by_type(new_variants))
    at = where or "the body"
    narrower = not _covers(new_types, old_types)
    wider = not _covers(old_types, new_types)
    if (
        (direction == "request" and narrower)
        or (direction == "response" and wider)
        or (direction == "event" and (narrower or wider))
    ):
        out.append(f"{at}: type changed from {_shown(old_types)} to {_shown(new_types)}")
        return
    old_by, new_by = _by_type(old_variants), _by_type(new_variants)
    for t in sorted(old_types & new_types):
        for (o, o_name), (n, n_name) in _pairs(old_by[t], new_by[t]):
            key = (o_name, n_name)  # a named schema once: recursive ones end
            if o_name and n_name and key in seen:
                continue
            seen.add(key)
            _compare_variant(o, n, t, at, where, direction, old_root, new_root, out, seen)


def _pairs(old, new):
    """Old and new alternatives of one type, paired by their schema names, else in order."""
    named = {name: (variant, name) for variant, name in new if name}
    return [
        (alternative, named.get(alternative[1]) or new[min(index, len(new) - 1)])
        for index, alternative in enumerate(old)
    ]


def _compare_variant(o, n, t, at, where, direction, old_root, new_root, out, seen) -> None:
    was, now = o.get("format"), n.get("format")
    if was != now:
        dropped = was is not None and now is None
        added = was is None and now is not None
        if (
            (was and now)
            or (direction == "request" and added)
            or (direction == "response" and dropped)
            or direction == "event"
        ):
            out.append(f"{at}: format changed from {was or 'none'} to {now or 'none'}")
    if "const" in o and o.get("const") != n.get("const", o["const"]):
        out.append(f"{at}: constant changed from {o['const']!r} to {n.get('const')!r}")
    if "enum" in o and "enum" in n:
        removed = [v for v in o["enum"] if v not in n["enum"]]
        if removed:
            out.append(f"{at}: enum values removed: {', '.join(map(str, removed))}")
    elif "enum" in n and "enum" not in o and direction in _WRITES_FIRST:
        out.append(f"{at}: now restricted to {', '.join(map(str, n['enum']))}")
    if t == "array" and "items" in o and "items" in n:
        _compare(o["items"], n["items"], f"{where}[]", direction, old_root, new_root, out, seen)
    if t == "object":
        _compare_object(o, n, where, direction, old_root, new_root, out, seen)


def _compare_object(o, n, where, direction, old_root, new_root, out, seen) -> None:
    old_props, new_props = o.get("properties", {}), n.get("properties", {})
    old_required, new_required = set(o.get("required", ())), set(n.get("required", ()))
    prefix = f"{where}." if where else ""
    for field, schema in old_props.items():
        name = prefix + field
        if field not in new_props:
            out.append(f"{name}: removed")
            continue
        if field in new_required and field not in old_required and direction != "response":
            out.append(f"{name}: optional made required")
        if field in old_required and field not in new_required and direction != "request":
            out.append(f"{name}: required made optional (readers may miss it)")
        _compare(schema, new_props[field], name, direction, old_root, new_root, out, seen)
    for field in new_props:
        if field not in old_props and field in new_required and direction != "response":
            out.append(f"{prefix}{field}: added as required")
    old_extra, new_extra = o.get("additionalProperties"), n.get("additionalProperties")
    if isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
        _compare(old_extra, new_extra, f"{where}{{}}", direction, old_root, new_root, out, seen)


# ---- OpenAPI -----------------------------------------------------------------------

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                yield path, method, item[method]


def _parameters(operation: Mapping[str, Any], root) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for parameter in operation.get("parameters", ()):
        parameter, _ = _resolve(parameter, root)
        name = parameter["name"].lower() if parameter["in"] == "header" else parameter["name"]
        found[(parameter["in"], name)] = parameter
    return found


def openapi_breaks(
    released: Mapping[str, Any], current: Mapping[str, Any], service: str = "api"
) -> list[str]:
    """What ``current`` breaks of the ``released`` OpenAPI document; nothing when
    its major version was raised."""
    was = released.get("info", {}).get("version", "0.0.0")
    now = current.get("info", {}).get("version", "0.0.0")
    if major(now) > major(was):
        return []
    out: list[str] = []
    now_ops = {(path, method): op for path, method, op in operations(current)}
    now_paths = set(current.get("paths", {}))
    for path, method, old in operations(released):
        label = f"{service} {method.upper()} {path}"
        new = now_ops.get((path, method))
        if new is None:
            out.append(f"{label}: {'path' if path not in now_paths else 'operation'} removed")
            continue
        out.extend(f"{label}: {b}" for b in _operation_breaks(old, new, released, current))
    return out


def _operation_breaks(old, new, old_root, new_root) -> list[str]:
    out = []
    if old.get("operationId") and old.get("operationId") != new.get("operationId"):
        out.append(
            f"operationId changed from {old['operationId']} to {new.get('operationId')} "
            "(operationIds are stable: clients are generated from them)"
        )
    old_params, new_params = _parameters(old, old_root), _parameters(new, new_root)
    for key, parameter in old_params.items():
        label = f"{key[0]} parameter {parameter['name']}"
        now = new_params.get(key)
        if now is None:
            out.append(f"{label}: removed")
            continue
        if now.get("required") and not parameter.get("required"):
            out.append(f"{label}: optional made required")
        out.extend(
            schema_breaks(
                parameter.get("schema", {}),
                now.get("schema", {}),
                direction="request",
                old_root=old_root,
                new_root=new_root,
                where=label,
            )
        )
    for key, parameter in new_params.items():
        if key not in old_params and parameter.get("required"):
            out.append(f"{key[0]} parameter {parameter['name']}: added as required")
    out.extend(_body_breaks(old.get("requestBody"), new.get("requestBody"), old_root, new_root))
    old_responses, new_responses = old.get("responses", {}), new.get("responses", {})
    for status, response in old_responses.items():
        if not str(status).startswith("2"):
            continue  # problem answers document what can go wrong; not a promise
        now = new_responses.get(status)
        if now is None:
            out.append(f"response {status}: removed")
            continue
        response, _ = _resolve(response, old_root)
        now, _ = _resolve(now, new_root)
        for media, content in (response.get("content") or {}).items():
            current = (now.get("content") or {}).get(media)
            if current is None:
                out.append(f"response {status} {media}: removed")
                continue
            out.extend(
                schema_breaks(
                    content.get("schema", {}),
                    current.get("schema", {}),
                    direction="response",
                    old_root=old_root,
                    new_root=new_root,
                    where=f"response {status} body",
                )
            )
    return out


def _body_breaks(old, new, old_root, new_root) -> list[str]:
    if old is None:
        if new is not None and _resolve(new, new_root)[0].get("required"):
            return ["request body: added as required"]
        return []
    old, _ = _resolve(old, old_root)
    if new is None:
        return ["request body: removed"]
    new, _ = _resolve(new, new_root)
    out = []
    if new.get("required") and not old.get("required"):
        out.append("request body: optional made required")
    for media, content in (old.get("content") or {}).items():
        current = (new.get("content") or {}).get(media)
        if current is None:
            out.append(f"request body {media}: no longer accepted")
            continue
        out.extend(
            schema_breaks(
                content.get("schema", {}),
                current.get("schema", {}),
                direction="request",
                old_root=old_root,
                new_root=new_root,
                where="request body",
            )
        )
    return out

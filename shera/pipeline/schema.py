"""Pipeline layer: the JSON Schema (draft 2020-12) of a pipeline file, for editors and external checkers.

It describes one Woodpecker-style workflow document — steps in list and map form, services, ``when`` with
every constraint key, ``matrix``, ``depends_on``, ``workspace``, ``clone``, ``labels``, ``variables`` — plus
She-Ra steps (``uses: <kind>`` + ``with:``) whose ``with:`` is checked against the kind's own pydantic model.
Deprecated Woodpecker keys that real files still carry are accepted and marked ``"deprecated": true``.

The schema is a convenience; ``shera lint`` is the authority (it also checks names, cycles, globs and
expressions, which a schema cannot). Output is a pure function of the registered step kinds: dump it with
``sort_keys=True`` for a byte-stable file.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from shera.plugins import STEP_KINDS, Registry
from shera.steps.base import with_schema

DRAFT = "https://json-schema.org/draft/2020-12/schema"
EVENTS: tuple[str, ...] = ("push", "pull_request", "pull_request_closed", "pull_request_metadata", "tag")
EVENTS += ("release", "deployment", "cron", "manual")
_STR = {"type": "string"}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def _one_or_many(item: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [item, {"type": "array", "items": item, "minItems": 1}]}


def _closed(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    """An object with exactly these keys (``required`` among them)."""
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    return {**schema, "required": list(required)} if required else schema


def _deprecated(schema: dict[str, Any], use: str) -> dict[str, Any]:
    return {**schema, "deprecated": True, "description": f"Deprecated: use {use}."}


def _constraint(item: dict[str, Any]) -> dict[str, Any]:
    """A pattern or list of patterns, or ``{include, exclude}`` of them."""
    one_or_many = _one_or_many(item)
    return {
        "anyOf": [
            *one_or_many["anyOf"],
            _closed({"include": one_or_many, "exclude": one_or_many}),
        ]
    }


def _when_defs() -> dict[str, Any]:
    constraint = _ref("constraint")
    condition = {
        "type": "object",
        "additionalProperties": False,
        "description": "Every key given must match (AND); items of a `when` list are alternatives (OR).",
        "properties": {
            "event": {**_constraint(_ref("event")), "description": "Events that run it."},
            "branch": {**constraint, "description": "Branch globs (target branch for pull requests)."},
            "ref": {**constraint, "description": "Git ref globs, e.g. refs/tags/v*."},
            "tag": _deprecated(constraint, "ref: refs/tags/..."),
            "cron": {**constraint, "description": "Names of the cron jobs that run it."},
            "repo": {**constraint, "description": "Repository full names (owner/name)."},
            "instance": {**constraint, "description": "Host names of the CI server."},
            "platform": {**constraint, "description": "Agent platforms, e.g. linux/amd64."},
            "environment": {**constraint, "description": "Deployment environments."},
            "status": _one_or_many({"enum": ["success", "failure"]}),
            "matrix": {"type": "object", "additionalProperties": _SCALAR},
            "path": {
                "description": "Globs over the files the event changed.",
                "anyOf": [
                    *_one_or_many(_STR)["anyOf"],
                    _closed(
                        {
                            "include": _one_or_many(_STR),
                            "exclude": _one_or_many(_STR),
                            "ignore_message": _STR,
                            "on_empty": {"type": "boolean"},
                        }
                    ),
                ],
            },
            "evaluate": {"type": "string", "description": "An expression over CI_* variables."},
        },
    }
    return {
        "event": {"enum": list(EVENTS)},
        "constraint": _constraint(_STR),
        "when_condition": condition,
        "when": _one_or_many(_ref("when_condition")),
    }


def _common_step_properties() -> dict[str, Any]:
    """Keys every step has, container or She-Ra."""
    return {
        "name": {"type": "string", "minLength": 1, "description": "Step name (required in list form)."},
        "when": _ref("when"),
        "depends_on": {
            "anyOf": [_ref("dependency"), {"type": "array", "items": _ref("dependency")}],
            "description": "Steps to wait for (name or {name, optional}); [] starts at once.",
        },
        "failure": {
            "enum": ["fail", "ignore"],
            "description": "ignore: a failure does not fail the workflow.",
        },
    }


def _step_defs() -> dict[str, Any]:
    string_list = _one_or_many(_STR)
    dependency = {
        "anyOf": [
            _STR,
            _closed({"name": _STR, "optional": {"type": "boolean"}}, "name"),
        ]
    }
    common = _common_step_properties()
    container = {
        **common,
        "image": {"type": "string", "minLength": 1, "description": "Container image."},
        "pull": {"type": "boolean"},
        "commands": string_list,
        "entrypoint": string_list,
        "environment": _ref("environment"),
        "settings": {"type": "object", "description": "Plugin settings, passed as PLUGIN_* variables."},
        "detach": {"type": "boolean", "description": "Run in the background until the workflow ends."},
        "directory": _STR,
        "privileged": {"type": "boolean"},
        "volumes": {"type": "array", "items": _STR},
        "backend_options": {"type": "object"},
        "dns": string_list,
        "dns_search": string_list,
        "extra_hosts": {"type": "array", "items": _STR},
        "network_mode": _STR,
        "secrets": _deprecated(
            {
                "type": "array",
                "items": {"anyOf": [_STR, {"type": "object", "required": ["source", "target"]}]},
            },
            "environment with from_secret",
        ),
        "group": _deprecated(_STR, "depends_on"),
    }
    plugin_rule = {
        "if": {"required": ["settings"]},
        "then": {"properties": {"commands": False, "entrypoint": False, "environment": False}},
    }
    env_value = {
        "anyOf": [
            _SCALAR,
            {"type": "array"},
            _closed({"from_secret": _STR}, "from_secret"),
        ]
    }
    return {
        "dependency": dependency,
        "environment": {
            "anyOf": [
                {"type": "object", "additionalProperties": env_value},
                _deprecated({"type": "array", "items": _STR}, "a mapping"),
            ]
        },
        "container_step": {
            "type": "object",
            "additionalProperties": False,
            "required": ["image"],
            "properties": container,
            "allOf": [plugin_rule],
        },
        "service": {
            "type": "object",
            "additionalProperties": False,
            "required": ["image"],
            "properties": {**container, "ports": {"type": "array", "items": {"type": ["integer", "string"]}}},
            "allOf": [plugin_rule],
        },
        "step": {
            "description": "A container step (commands, or a plugin with settings) or a She-Ra step (uses).",
            "if": {"type": "object", "required": ["uses"]},
            "then": _ref("shera_step"),
            "else": _ref("container_step"),
        },
        "step_list": _named_list(_ref("step")),
        "services": _named_list(_ref("service")),
    }


def _named_list(item: dict[str, Any]) -> dict[str, Any]:
    """A map of name → item, or a list of items that each carry a ``name``."""
    return {
        "type": ["object", "array"],
        "minProperties": 1,
        "additionalProperties": item,
        "minItems": 1,
        "items": {"allOf": [item, {"required": ["name"]}]},
    }


def _shera_step(refs: dict[str, Any], required: set[str], registered: list[str]) -> dict[str, Any]:
    """A ``uses:`` step; ``with`` follows the kind's model (required when the model has required keys)."""
    rules = []
    for name in registered:
        if name not in refs:
            continue
        then: dict[str, Any] = {"properties": {"with": refs[name]}}
        if name in required:
            then["required"] = ["with"]
        rules.append({"if": {"properties": {"uses": {"const": name}}}, "then": then})
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["uses"],
        "properties": {
            **_common_step_properties(),
            "uses": {"enum": registered, "description": "The She-Ra step kind."},
            "with": {"type": "object", "description": "The kind's settings; see the kind's model."},
        },
        "allOf": rules,
    }


def pipeline_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema of a pipeline file, with ``with:`` of every registered step kind.

    ``registry`` defaults to the installed entry points. A kind whose plugin object is not a pydantic model
    is listed in ``uses`` with an unchecked ``with:``.
    """
    registry = registry or Registry.from_entry_points((STEP_KINDS,))
    registered = registry.names(STEP_KINDS)
    models: dict[str, type[BaseModel]] = {}
    for name in registered:
        obj = registry.get(STEP_KINDS, name)
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            models[name] = obj
    generated = with_schema(models)
    defs: dict[str, Any] = {**_when_defs(), **_step_defs()}
    clash = sorted(set(defs) & set(generated["$defs"]))
    if clash:
        raise ValueError(f"step kind models reuse schema names of the pipeline schema: {clash}")
    defs.update(generated["$defs"])
    required = {
        name
        for name, model in models.items()
        if any(field.is_required() for field in model.model_fields.values())
    }
    defs["shera_step"] = _shera_step(generated["kinds"], required, registered)
    return {
        "$schema": DRAFT,
        "title": "She-Ra pipeline file",
        "description": "A workflow: Woodpecker syntax plus She-Ra steps (uses + with).",
        "type": "object",
        "additionalProperties": False,
        "anyOf": [{"required": ["steps"]}, {"required": ["pipeline"]}],
        "properties": _root_properties(),
        "$defs": defs,
    }


def _root_properties() -> dict[str, Any]:
    scalar_list = {"type": "array", "items": _SCALAR, "minItems": 1}
    return {
        "$schema": {"type": "string"},
        "steps": _ref("step_list"),
        "pipeline": _deprecated(_ref("step_list"), "steps"),
        "services": _ref("services"),
        "when": _ref("when"),
        "depends_on": {
            "type": "array",
            "items": _ref("dependency"),
            "description": "Workflows (file names without extension) that must finish first.",
        },
        "runs_on": {"type": "array", "items": {"enum": ["success", "failure"]}},
        "matrix": {
            "type": "object",
            "description": "Axes (name → values) whose cross product runs the workflow; or include rows.",
            "properties": {
                "include": {"type": "array", "items": {"type": "object", "additionalProperties": _SCALAR}}
            },
            "additionalProperties": scalar_list,
        },
        "labels": {"type": "object", "additionalProperties": _SCALAR},
        "variables": {"description": "Free space for YAML anchors; ignored otherwise."},
        "workspace": _closed({"base": _STR, "path": _STR}),
        "clone": {
            "description": "Replaces the clone step: a map or list of steps.",
            "type": ["object", "array"],
            "additionalProperties": {
                "type": "object",
                "properties": {"image": _STR, "settings": {"type": "object"}},
            },
            "items": _ref("step"),
        },
        "skip_clone": {"type": "boolean"},
        "concurrency": {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                _closed({"limit": {"type": "integer", "minimum": 1}, "group": _STR}, "limit"),
            ]
        },
        "platform": _deprecated(_STR, "labels: {platform: ...}"),
        "branches": _deprecated(_ref("constraint"), "when: {branch: ...}"),
        "version": _deprecated({"type": ["number", "string"]}, "nothing (it is ignored)"),
    }


def schema_text(registry: Registry | None = None) -> str:
    """``pipeline_schema`` as ``pipelines/schema.json`` holds it: indent 2, sorted keys, final newline."""
    return json.dumps(pipeline_schema(registry), indent=2, sort_keys=True) + "\n"

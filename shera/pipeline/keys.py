"""Pipeline layer: the keys each dialect accepts, which are deprecated, and closest-key hints.

Only key *names* live here; what a value may look like is the readers' business. A key missing from every
set below is an ``unknown_key`` error whose hint is the closest valid key (``difflib``); a deprecated key is
a ``deprecated`` warning whose hint says what to write instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from shera.model.problems import Problem, Severity
from shera.pipeline.yamlload import LDict

# --- Woodpecker (and She-Ra, which is Woodpecker plus the extension keys) ---------------------------------

WORKFLOW = frozenset(
    {
        "steps", "when", "services", "workspace", "matrix", "labels", "depends_on", "runs_on", "skip_clone",
        "clone", "variables", "concurrency", "version", "$schema",
    }
)  # fmt: skip
WORKFLOW_DEPRECATED: Mapping[str, str] = {
    "pipeline": "use 'steps'",
    "platform": "use 'labels: {platform: ...}'",
    "branches": "use 'when: {branch: ...}'",
    "cache": "caching is not supported; use a volume or a plugin",
    "networks": "custom networks are not supported",
    "volumes": "workflow volumes are not supported; use step volumes",
}

STEP = frozenset(
    {
        "name", "image", "commands", "entrypoint", "environment", "settings", "when", "depends_on", "failure",
        "detach", "directory", "pull", "privileged", "volumes", "ports", "backend_options", "dns",
        "dns_search", "extra_hosts", "devices", "network_mode", "shm_size", "tmpfs", "cpu_quota", "cpuset",
        "cpu_shares", "mem_limit", "memswap_limit",
    }
)  # fmt: skip
SHERA_STEP = frozenset({"uses", "with", "timeout"})
STEP_DEPRECATED: Mapping[str, str] = {
    "secrets": "use 'environment: {NAME: {from_secret: name}}'",
    "group": "use 'depends_on'",
}

WHEN = frozenset(
    {"repo", "instance", "platform", "event", "branch", "ref", "cron", "status", "matrix", "path", "evaluate"}
)
WHEN_IGNORED: Mapping[str, str] = {"local": "'local' is ignored by She-Ra"}
WHEN_DEPRECATED: Mapping[str, str] = {
    "environment": "use 'evaluate: CI_PIPELINE_DEPLOY_TARGET == \"...\"'",
    "tag": "use 'ref: refs/tags/...'",
}
CONSTRAINT = frozenset({"include", "exclude"})
PATH = frozenset({"include", "exclude", "ignore_message", "on_empty"})
WORKSPACE = frozenset({"base", "path"})
DEPENDENCY = frozenset({"name", "optional"})
MATRIX_INCLUDE = "include"

EVENTS = frozenset(
    {
        "push", "pull_request", "pull_request_closed", "pull_request_metadata", "tag", "deployment", "cron",
        "manual", "release",
    }
)  # fmt: skip
STATUSES = frozenset({"success", "failure"})

# --- Drone 1.x ---------------------------------------------------------------------------------------------

DRONE_PIPELINE = frozenset(
    {
        "kind", "type", "name", "platform", "workspace", "clone", "steps", "services", "volumes", "trigger",
        "depends_on", "node", "image_pull_secrets", "concurrency", "environment", "pool", "server", "token",
        "metadata", "service_account_name", "node_selector", "tolerations", "dns_config", "host_aliases",
        "version",
    }
)  # fmt: skip
DRONE_STEP = frozenset(
    {
        "name", "image", "commands", "command", "entrypoint", "environment", "settings", "when", "depends_on",
        "failure", "detach", "privileged", "pull", "volumes", "user", "working_dir", "network_mode",
        "shm_size", "dns", "dns_search", "extra_hosts", "devices", "resources", "ports", "shell",
    }
)  # fmt: skip
DRONE_STEP_DEPRECATED: Mapping[str, str] = {"secrets": "use 'environment: {NAME: {from_secret: name}}'"}
DRONE_WHEN = frozenset(
    {"branch", "event", "ref", "repo", "instance", "status", "target", "cron", "action", "paths"}
)
DRONE_EVENTS: Mapping[str, str] = {
    "push": "push",
    "pull_request": "pull_request",
    "tag": "tag",
    "cron": "cron",
    "promote": "deployment",
    "rollback": "deployment",
    "custom": "manual",
    "deployment": "deployment",
}
DRONE_PLATFORM = frozenset({"os", "arch", "version", "variant"})
DRONE_CLONE = frozenset({"disable", "depth", "skip_verify", "retries", "trace"})
DRONE_VOLUME = frozenset({"name", "host", "temp", "claim", "config_map"})
DRONE_STEP_VOLUME = frozenset({"name", "path"})
DRONE_CONTAINER_TYPES = frozenset({"docker", "kubernetes"})

# --- Drone 0.8 (``pipeline:`` map; unknown step keys are plugin parameters) -----------------------------

DRONE08_WORKFLOW = frozenset(
    {"workspace", "clone", "pipeline", "services", "matrix", "branches", "labels", "platform", "depends_on"}
)
DRONE08_STEP = frozenset(
    {
        "image", "commands", "environment", "secrets", "when", "group", "pull", "privileged", "volumes",
        "detach", "entrypoint", "network_mode", "extra_hosts", "devices", "dns", "shm_size", "ports",
        "failure",
    }
)  # fmt: skip


def closest(key: str, valid: Iterable[str]) -> str | None:
    """The valid key nearest to ``key`` by spelling, or ``None`` when nothing is close."""
    matches = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.6)
    return matches[0] if matches else None


def check_keys(
    mapping: LDict,
    valid: frozenset[str],
    *,
    where: str,
    deprecated: Mapping[str, str] | None = None,
    ignored: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Problems for the keys of ``mapping``: unknown (error, with a hint), deprecated or ignored (warning)."""
    problems: list[Problem] = []
    deprecated = deprecated or {}
    ignored = ignored or {}
    for key in mapping:
        if key in valid:
            continue
        pos = mapping.pos_of(key)
        if key in deprecated:
            problems.append(
                Problem(
                    pos.file, pos.line, pos.column, Severity.WARNING, "deprecated",
                    f"'{key}' in {where} is deprecated", deprecated[key],
                )
            )  # fmt: skip
        elif key in ignored:
            problems.append(
                Problem(pos.file, pos.line, pos.column, Severity.WARNING, "ignored", ignored[key])
            )
        else:
            hint = closest(str(key), set(valid) | set(deprecated))
            problems.append(
                Problem(
                    pos.file, pos.line, pos.column, Severity.ERROR, "unknown_key",
                    f"unknown key '{key}' in {where}", f"did you mean '{hint}'?" if hint else None,
                )
            )  # fmt: skip
    return problems

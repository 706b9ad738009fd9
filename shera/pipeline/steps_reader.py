"""Pipeline layer: reads steps, services and clone steps (both dialects) into ``StepSpec``.

Accepted shapes follow Woodpecker's schema: a section is a mapping (key = step name) or a list (``name:``
inside); ``commands``/``entrypoint``/``depends_on`` are a string or a list; ``environment`` is a mapping or a
``KEY=value`` list, values may be ``{from_secret: name}``; ``depends_on`` items are names or
``{name, optional}``. Key combinations Woodpecker's linter rejects are checked here because only here are
their positions known: plugin ``settings`` with ``commands`` or ``entrypoint`` (error), with ``environment``
(error for Woodpecker, fine for Drone) and with the deprecated ``secrets`` (warning).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shera.pipeline import keys
from shera.pipeline.readctx import ReadContext, raw_of, scalar_text, type_name
from shera.pipeline.spec import Dependency, EnvValue, FromSecret, StepSpec
from shera.pipeline.when_reader import read_when
from shera.pipeline.yamlload import LDict, LList, Pos

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")
_PULL_WORDS = {"always": True, "if-not-exists": False, "never": False, "default": False}


@dataclass(frozen=True, slots=True)
class StepDialect:
    """How one dialect spells a step. ``legacy``: Drone 0.8, where unknown keys are plugin parameters."""

    valid: frozenset[str]
    deprecated: Mapping[str, str]
    drone: bool = False
    legacy: bool = False
    shera_keys_warn: bool = False
    legacy_warn: bool = False


WOODPECKER = StepDialect(keys.STEP | keys.SHERA_STEP, keys.STEP_DEPRECATED)
WOODPECKER_ONLY = StepDialect(keys.STEP | keys.SHERA_STEP, keys.STEP_DEPRECATED, shera_keys_warn=True)
DRONE = StepDialect(keys.DRONE_STEP, keys.DRONE_STEP_DEPRECATED, drone=True)
DRONE08 = StepDialect(keys.DRONE08_STEP, {"group": "use 'depends_on'"}, legacy=True)
CLONE = StepDialect(keys.STEP, keys.STEP_DEPRECATED, legacy=True, legacy_warn=True)


def read_steps(
    value: Any, pos: Pos, ctx: ReadContext, dialect: StepDialect, *, section: str
) -> list[StepSpec]:
    """The steps of a ``steps``/``services``/``clone``/``pipeline`` section, in file order."""
    service = section == "services"
    out: list[StepSpec] = []
    if isinstance(value, LDict):
        for key, item in value.items():
            step_pos = value.pos_of(key)
            mapping = ctx.mapping(item, value.value_pos_of(key), f"{section} entry '{key}'")
            if mapping is None:
                if item is None:
                    ctx.error(step_pos, "type", f"{section} entry '{key}' is empty")
                continue
            name = scalar_text(mapping.get("name"), raw_of(mapping, "name")) or str(key)
            out.append(read_step(name, mapping, step_pos, ctx, dialect, service=service))
    elif isinstance(value, LList):
        for index, item in enumerate(value):
            step_pos = value.pos_at(index)
            mapping = ctx.mapping(item, step_pos, f"{section} item {index + 1}")
            if mapping is None:
                continue
            given = scalar_text(mapping.get("name"), raw_of(mapping, "name"))
            name = given or f"{'service' if service else 'step'}-{index}"
            if not given and service:
                ctx.error(step_pos, "missing", "a service needs a 'name' (other steps reach it by name)")
            out.append(read_step(name, mapping, step_pos, ctx, dialect, service=service))
    elif value is not None:
        ctx.error(pos, "type", f"'{section}' must be a mapping or a list of steps, not {type_name(value)}")
    return out


def read_step(
    name: str, mapping: LDict, pos: Pos, ctx: ReadContext, dialect: StepDialect, *, service: bool = False
) -> StepSpec:
    """One step; every problem goes to ``ctx``."""
    where = f"{'service' if service else 'step'} '{name}'"
    settings: dict[str, Any] = {}
    if dialect.legacy:
        settings = _legacy_settings(mapping, dialect)
        if settings and dialect.legacy_warn:
            first = next(iter(settings))
            ctx.warn(
                settings.pos_of(first),
                "deprecated",
                f"{where}: plugin parameters outside 'settings:' are deprecated",
                f"move {', '.join(settings)} under 'settings:'",
            )
    else:
        ctx.keys(mapping, dialect.valid, where=where, deprecated=dialect.deprecated)
    step = StepSpec(name=name, pos=pos, is_service=service)

    def at(key: str) -> Pos:
        return mapping.value_pos_of(key)

    step.image = ctx.text(mapping.get("image"), at("image"), f"{where}: 'image'", raw_of(mapping, "image"))
    step.commands = ctx.strings(mapping.get("commands"), at("commands"), f"{where}: 'commands'") or ()
    step.entrypoint = ctx.strings(mapping.get("entrypoint"), at("entrypoint"), f"{where}: 'entrypoint'")
    step.environment = read_environment(mapping.get("environment"), at("environment"), ctx, where)
    secret_env = _secrets(mapping.get("secrets"), at("secrets"), ctx, where)
    step.environment = {**secret_env, **step.environment}
    if "settings" in mapping:
        given = ctx.mapping(mapping["settings"], at("settings"), f"{where}: 'settings'")
        settings = given if given is not None else {}
    step.settings = settings
    step.when = read_when(mapping.get("when"), at("when"), ctx, drone=dialect.drone)
    if "depends_on" in mapping:
        step.depends_on = read_depends_on(mapping["depends_on"], at("depends_on"), ctx, where)
    step.failure = _failure(mapping, ctx, where)
    step.detach = ctx.boolean(mapping.get("detach"), at("detach"), f"{where}: 'detach'")
    step.privileged = ctx.boolean(mapping.get("privileged"), at("privileged"), f"{where}: 'privileged'")
    step.pull = _pull(mapping, ctx, where)
    directory_key = "working_dir" if dialect.drone else "directory"
    if directory_key in mapping:
        step.directory = ctx.text(mapping[directory_key], at(directory_key), f"{where}: '{directory_key}'")
    step.volumes = _volumes(mapping.get("volumes"), at("volumes"), ctx, where, drone=dialect.drone)
    step.ports = _ports(mapping.get("ports"), at("ports"), ctx, where)
    if "timeout" in mapping:
        step.timeout_s = _timeout(mapping["timeout"], at("timeout"), ctx, where)
    _shera_keys(step, mapping, ctx, where, dialect)
    _combinations(mapping, ctx, where, drone=dialect.drone)
    return step


def read_environment(value: Any, pos: Pos, ctx: ReadContext, where: str) -> dict[str, EnvValue]:
    """A mapping (values: scalars, lists joined by ',', ``{from_secret: x}``) or a ``KEY=value`` list."""
    out: dict[str, EnvValue] = {}
    if value is None:
        return out
    if isinstance(value, LList):
        for index, item in enumerate(value):
            text = scalar_text(item, raw_of(value, index))
            if text is None or "=" not in text:
                ctx.error(value.pos_at(index), "type", f"{where}: environment list items are 'KEY=value'")
                continue
            key, _, val = text.partition("=")
            out[key] = val
        return out
    if not isinstance(value, LDict):
        ctx.error(pos, "type", f"{where}: 'environment' must be a mapping, not {type_name(value)}")
        return out
    for key, item in value.items():
        if isinstance(item, LDict) and "from_secret" in item:
            secret = scalar_text(item["from_secret"], raw_of(item, "from_secret"))
            if not secret:
                ctx.error(item.value_pos_of("from_secret"), "type", f"{where}: 'from_secret' needs a name")
                continue
            ctx.keys(item, frozenset({"from_secret"}), where=f"{where}: environment '{key}'")
            out[str(key)] = FromSecret(secret)
        elif isinstance(item, list):
            out[str(key)] = ",".join(scalar_text(v, None) or json.dumps(v) for v in item)
        elif isinstance(item, dict):
            out[str(key)] = json.dumps(item)
        else:
            out[str(key)] = scalar_text(item, raw_of(value, key)) or ""
    return out


def read_depends_on(value: Any, pos: Pos, ctx: ReadContext, where: str) -> tuple[Dependency, ...]:
    """Names, or ``{name, optional}`` mappings; a bare string is one name."""
    if value is None:
        return ()
    if not isinstance(value, LList):
        text = scalar_text(value, None)
        if text is None:
            ctx.error(pos, "type", f"{where}: 'depends_on' must be a name or a list")
            return ()
        return (Dependency(text, False, pos),)
    out: list[Dependency] = []
    for index, item in enumerate(value):
        item_pos = value.pos_at(index)
        if isinstance(item, LDict):
            ctx.keys(item, keys.DEPENDENCY, where=f"{where}: a 'depends_on' item")
            name = scalar_text(item.get("name"), raw_of(item, "name"))
            if not name:
                ctx.error(item_pos, "missing", f"{where}: a 'depends_on' item needs a 'name'")
                continue
            optional = ctx.boolean(item.get("optional"), item.value_pos_of("optional"), "'optional'")
            out.append(Dependency(name, optional, item_pos))
            continue
        text = scalar_text(item, raw_of(value, index))
        if text is None:
            ctx.error(item_pos, "type", f"{where}: 'depends_on' items are names or {{name, optional}}")
            continue
        out.append(Dependency(text, False, item_pos))
    return tuple(out)


def _legacy_settings(mapping: LDict, dialect: StepDialect) -> LDict:
    """Drone 0.8 (and old Woodpecker clone steps): every key that is not a step key is a plugin parameter."""
    settings = LDict(mapping.pos)
    for key, value in mapping.items():
        if key in dialect.valid or key == "name":
            continue
        settings[key] = value
        settings.key_pos[key] = mapping.pos_of(key)
        settings.value_pos[key] = mapping.value_pos_of(key)
        if key in mapping.raw:
            settings.raw[key] = mapping.raw[key]
    return settings


def _secrets(value: Any, pos: Pos, ctx: ReadContext, where: str) -> dict[str, EnvValue]:
    """Deprecated ``secrets: [name | {source, target}]``: each becomes ``NAME=from_secret(name)``."""
    out: dict[str, EnvValue] = {}
    if value is None:
        return out
    items = value if isinstance(value, LList) else [value]
    for item in items:
        if isinstance(item, LDict):
            source = scalar_text(item.get("source"), raw_of(item, "source"))
            target = scalar_text(item.get("target"), raw_of(item, "target")) or source
            if source and target:
                out[target.upper()] = FromSecret(source)
                continue
        elif (text := scalar_text(item, None)) is not None:
            out[text.upper()] = FromSecret(text)
            continue
        ctx.error(pos, "type", f"{where}: 'secrets' items are names or {{source, target}}")
    return out


def _failure(mapping: LDict, ctx: ReadContext, where: str) -> str:
    if "failure" not in mapping:
        return "fail"
    text = ctx.text(mapping["failure"], mapping.value_pos_of("failure"), f"{where}: 'failure'")
    if text in ("fail", "ignore"):
        return text
    if text is not None:
        ctx.error(
            mapping.value_pos_of("failure"), "value", f"{where}: 'failure' is fail or ignore, not {text!r}"
        )
    return "fail"


def _pull(mapping: LDict, ctx: ReadContext, where: str) -> bool:
    value, pos = mapping.get("pull"), mapping.value_pos_of("pull")
    if isinstance(value, str) and value in _PULL_WORDS:
        return _PULL_WORDS[value]
    return ctx.boolean(value, pos, f"{where}: 'pull'")


def _volumes(value: Any, pos: Pos, ctx: ReadContext, where: str, *, drone: bool) -> tuple[str, ...]:
    """Woodpecker: ``host:container[:mode]`` strings. Drone: ``{name, path}`` (kept as ``name:path``)."""
    if value is None:
        return ()
    if not isinstance(value, LList):
        ctx.error(pos, "type", f"{where}: 'volumes' must be a list")
        return ()
    out: list[str] = []
    for index, item in enumerate(value):
        if drone and isinstance(item, LDict):
            ctx.keys(item, keys.DRONE_STEP_VOLUME, where=f"{where}: a volume")
            name = scalar_text(item.get("name"), raw_of(item, "name"))
            path = scalar_text(item.get("path"), raw_of(item, "path"))
            if name and path:
                out.append(f"{name}:{path}")
                continue
            ctx.error(value.pos_at(index), "missing", f"{where}: a volume needs 'name' and 'path'")
            continue
        text = scalar_text(item, raw_of(value, index))
        if text is None:
            ctx.error(value.pos_at(index), "type", f"{where}: volume items must be strings")
            continue
        out.append(text)
    return tuple(out)


def _ports(value: Any, pos: Pos, ctx: ReadContext, where: str) -> tuple[int, ...]:
    """Port numbers; ``"8080/tcp"`` gives 8080."""
    if value is None:
        return ()
    items = value if isinstance(value, LList) else [value]
    out: list[int] = []
    for item in items:
        text = scalar_text(item, None)
        head = (text or "").split("/", 1)[0].split(":")[-1]
        if text is None or isinstance(item, bool) or not head.isdigit() or not 0 < int(head) < 65536:
            ctx.error(pos, "value", f"{where}: {item!r} is not a port number")
            continue
        out.append(int(head))
    return tuple(out)


def _timeout(value: Any, pos: Pos, ctx: ReadContext, where: str) -> float | None:
    """Seconds as a number, or a duration such as ``90s``, ``10m``, ``1h30m``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str) and value and _DURATION.sub("", value) == "":
        factor = {"h": 3600.0, "m": 60.0, "s": 1.0}
        return sum(float(n) * factor[unit] for n, unit in _DURATION.findall(value))
    ctx.error(pos, "value", f"{where}: 'timeout' must be seconds or a duration like 10m, not {value!r}")
    return None


def _shera_keys(step: StepSpec, mapping: LDict, ctx: ReadContext, where: str, dialect: StepDialect) -> None:
    if "uses" in mapping:
        step.uses = ctx.text(mapping["uses"], mapping.value_pos_of("uses"), f"{where}: 'uses'")
        for key in ("commands", "entrypoint", "settings"):
            if key in mapping:
                ctx.error(
                    mapping.pos_of(key),
                    "conflict",
                    f"{where}: a 'uses:' step cannot have '{key}'",
                    "put the inputs of the kind under 'with:'",
                )
    if "with" in mapping:
        with_ = ctx.mapping(mapping["with"], mapping.value_pos_of("with"), f"{where}: 'with'")
        step.with_ = with_ if with_ is not None else {}
        if "uses" not in mapping:
            ctx.error(mapping.pos_of("with"), "missing", f"{where}: 'with:' needs 'uses:' naming a step kind")
    if dialect.shera_keys_warn:
        for key in sorted(keys.SHERA_STEP & set(mapping)):
            ctx.warn(
                mapping.pos_of(key),
                "extension",
                f"{where}: '{key}' is a She-Ra extension",
                "Woodpecker rejects this file; rename it to .shera.yml",
            )


def _combinations(mapping: LDict, ctx: ReadContext, where: str, *, drone: bool) -> None:
    """Plugin ``settings`` next to keys Woodpecker's linter forbids or discourages."""
    if not mapping.get("settings"):
        return
    pos = mapping.pos_of("settings")
    for key in ("commands", "entrypoint"):
        if mapping.get(key):
            ctx.error(
                pos,
                "conflict",
                f"{where}: cannot configure both {key} and settings",
                f"a plugin runs its image's own entrypoint; remove '{key}' or 'settings'",
            )
    if mapping.get("environment") and not drone:
        ctx.error(
            pos,
            "conflict",
            f"{where}: cannot configure both environment and settings",
            "pass plugin inputs as settings (they become PLUGIN_* variables)",
        )
    if mapping.get("secrets"):
        ctx.warn(
            pos,
            "conflict",
            f"{where}: should not configure both secrets and settings",
            "use 'settings: {key: {from_secret: name}}'",
        )

"""Pipeline layer: reads a Drone file (1.x multi-document, or the 0.8 ``pipeline:`` map) into workflows.

Drone 1.x: each ``kind: pipeline`` document is a workflow named by its ``name`` (default ``default``);
``trigger`` is the workflow ``when``, ``depends_on`` names other pipelines, ``clone.disable`` skips the clone,
pipeline ``environment`` is merged into every step (the step wins), ``platform``/``node`` become labels, and
step volumes that name a pipeline ``host`` volume become ``host:container`` bind mounts. Non-container
types (``exec``, ``ssh``, ``vm``...) are labelled ``backend: local``-like so missing images are only
warnings. ``kind: secret|signature|template`` documents are ignored. Drone 0.8 files are read by the
Woodpecker reader in legacy mode (unknown step keys are plugin parameters).
"""

from __future__ import annotations

from typing import Any

from shera.model.problems import Problem
from shera.pipeline import keys
from shera.pipeline.readctx import ReadContext, raw_of, scalar_text
from shera.pipeline.spec import WorkflowSpec
from shera.pipeline.steps_reader import DRONE, read_depends_on, read_environment, read_steps
from shera.pipeline.when_reader import read_when
from shera.pipeline.woodpecker import read_workflow
from shera.pipeline.yamlload import Document, LDict, Pos

IGNORED_KINDS = frozenset({"secret", "signature", "template"})


def is_drone(docs: list[Document], file: str) -> bool:
    """Whether ``docs`` is a Drone file: a document has ``kind:``, or a ``.drone.y*ml`` has ``pipeline:``."""
    for doc in docs:
        if isinstance(doc.value, dict) and "kind" in doc.value:
            return True
    drone_name = file.endswith((".drone.yml", ".drone.yaml"))
    return drone_name and any(isinstance(doc.value, dict) and "pipeline" in doc.value for doc in docs)


def read_drone(docs: list[Document], *, file: str) -> tuple[list[WorkflowSpec], list[Problem]]:
    """Every pipeline of a Drone file, and the problems found."""
    ctx = ReadContext(file)
    workflows: list[WorkflowSpec] = []
    for doc in docs:
        root = doc.value
        if not isinstance(root, LDict):
            ctx.error(doc.pos, "type", "a Drone document must be a mapping")
            continue
        if "kind" not in root:
            workflow, problems = read_workflow(doc, file=file, name="default", legacy=True)
            ctx.problems.extend(problems)
            if workflow is not None:
                workflows.append(workflow)
            continue
        kind = scalar_text(root["kind"], raw_of(root, "kind"))
        if kind in IGNORED_KINDS:
            continue
        if kind != "pipeline":
            ctx.error(
                root.value_pos_of("kind"),
                "value",
                f"unknown Drone document kind {kind!r}",
                "use pipeline, secret, signature or template",
            )
            continue
        workflows.append(_pipeline(root, ctx))
    return workflows, ctx.problems


def _pipeline(root: LDict, ctx: ReadContext) -> WorkflowSpec:
    ctx.keys(root, keys.DRONE_PIPELINE, where="a Drone pipeline")
    name = ctx.text(root.get("name"), root.value_pos_of("name"), "'name'") or "default"
    workflow = WorkflowSpec(name=name, file=ctx.file, pos=root.pos, dialect="drone")
    kind = ctx.text(root.get("type"), root.value_pos_of("type"), "'type'") or "docker"
    if kind not in keys.DRONE_CONTAINER_TYPES:
        workflow.labels["backend"] = "local" if kind == "exec" else kind
    _platform(workflow, root, ctx)
    if not root.get("steps"):
        ctx.error(root.pos_of("steps"), "missing", f"pipeline '{name}' has no steps")
    workflow.steps = read_steps(root.get("steps"), root.value_pos_of("steps"), ctx, DRONE, section="steps")
    workflow.services = read_steps(
        root.get("services"), root.value_pos_of("services"), ctx, DRONE, section="services"
    )
    workflow.when = read_when(root.get("trigger"), root.value_pos_of("trigger"), ctx, drone=True)
    if "depends_on" in root:
        where = f"pipeline '{name}'"
        workflow.depends_on = read_depends_on(root["depends_on"], root.value_pos_of("depends_on"), ctx, where)
    environment = read_environment(root.get("environment"), root.value_pos_of("environment"), ctx, "pipeline")
    hosts = _host_volumes(root.get("volumes"), root.value_pos_of("volumes"), ctx)
    for step in [*workflow.steps, *workflow.services]:
        step.environment = {**environment, **step.environment}
        step.volumes = tuple(_bind(volume, hosts) for volume in step.volumes)
    _workspace(workflow, root, ctx)
    clone = ctx.mapping(root.get("clone"), root.value_pos_of("clone"), "'clone'")
    if clone is not None:
        ctx.keys(clone, keys.DRONE_CLONE, where="'clone'")
        workflow.skip_clone = ctx.boolean(
            clone.get("disable"), clone.value_pos_of("disable"), "'clone.disable'"
        )
    return workflow


def _platform(workflow: WorkflowSpec, root: LDict, ctx: ReadContext) -> None:
    platform = ctx.mapping(root.get("platform"), root.value_pos_of("platform"), "'platform'")
    if platform is not None:
        ctx.keys(platform, keys.DRONE_PLATFORM, where="'platform'")
        os_name = scalar_text(platform.get("os"), raw_of(platform, "os")) or "linux"
        arch = scalar_text(platform.get("arch"), raw_of(platform, "arch")) or "amd64"
        workflow.labels["platform"] = f"{os_name}/{arch}"
    node = ctx.mapping(root.get("node"), root.value_pos_of("node"), "'node'")
    for key, value in (node or {}).items():
        text = scalar_text(value, raw_of(node, key)) if node is not None else None
        if text is not None:
            workflow.labels[str(key)] = text


def _host_volumes(value: Any, pos: Pos, ctx: ReadContext) -> dict[str, str]:
    """Pipeline volumes: name -> host path (``temp`` volumes map to nothing: a named volume is used)."""
    out: dict[str, str] = {}
    if value is None:
        return out
    if not isinstance(value, list):
        ctx.error(pos, "type", "pipeline 'volumes' must be a list")
        return out
    for item in value:
        if not isinstance(item, LDict):
            ctx.error(pos, "type", "pipeline 'volumes' items are mappings with 'name'")
            continue
        ctx.keys(item, keys.DRONE_VOLUME, where="a pipeline volume")
        name = scalar_text(item.get("name"), raw_of(item, "name"))
        host = item.get("host")
        if name and isinstance(host, LDict) and (path := scalar_text(host.get("path"), raw_of(host, "path"))):
            out[name] = path
    return out


def _bind(volume: str, hosts: dict[str, str]) -> str:
    name, _, path = volume.partition(":")
    return f"{hosts[name]}:{path}" if name in hosts and path else volume


def _workspace(workflow: WorkflowSpec, root: LDict, ctx: ReadContext) -> None:
    workspace = ctx.mapping(root.get("workspace"), root.value_pos_of("workspace"), "'workspace'")
    if workspace is None:
        return
    ctx.keys(workspace, keys.WORKSPACE, where="'workspace'")
    if "base" in workspace:
        workflow.workspace_base = ctx.text(
            workspace["base"], workspace.value_pos_of("base"), "'workspace.base'"
        )
    if "path" in workspace:
        path = ctx.text(workspace["path"], workspace.value_pos_of("path"), "'workspace.path'")
        if path and path.startswith("/") and workflow.workspace_base is None:
            workflow.workspace_base = path  # Drone 1.x: an absolute path is the whole workspace
        else:
            workflow.workspace_path = path

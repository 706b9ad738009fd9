"""Executors layer: the ``podman`` executor — each step a container in one pod per workflow.

``prepare`` creates the pod ``shera-<workflow>`` with its own network namespace (``slirp4netns`` by default:
user-mode networking, never the default bridge) and ``--no-hosts``; every container of the workflow joins
it, so services listen on the pod's 127.0.0.1 and steps reach them there, or by name through a hosts file
She-Ra writes and bind-mounts at ``/etc/hosts`` (a line ``127.0.0.1 <service>`` is added as each service
starts). The workspace directory is bind-mounted at ``workspace.base``; steps work in
``workspace.directory`` (+ the step's ``directory``).

A step is ``podman create`` → ``podman start --attach`` (output streamed) → ``podman container inspect``
(exit code, ``OOMKilled``) → ``podman rm``. ``commands`` steps run Woodpecker's entrypoint
``/bin/sh -c 'echo $CI_SCRIPT | base64 -d | /bin/sh -e'`` with the script in ``CI_SCRIPT``; plugin steps
run the image's own entrypoint. Environment values go through a private ``--env-file`` (see
``podman_spec``), never through podman's own environment. Images are used from local storage and pulled
only when absent; an image that cannot be had is a failed ``StepResult`` with podman's reason. Timeout
and cancel ``podman kill`` the container (``killed``/137). Services and detached steps are started
detached, their logs followed into their sink. ``teardown`` stops the pod (``stop_grace`` seconds) and
removes it with every container and anonymous volume in it.

Without an explicit ``env`` the executor writes and uses She-Ra's private podman configuration
(``podman_config``) under ``data_dir`` (default ``$SHERA_DATA_DIR`` or ``~/.local/share/shera``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from shera.errors import ExecutorError
from shera.executors.base import KILLED_EXIT_CODE, OutputSink, StepResult, WorkflowContext
from shera.executors.podman_cli import PodmanCli, Stream
from shera.executors.podman_config import podman_environment
from shera.executors.podman_spec import WORKFLOW_LABEL, container_env, create_args, split_env
from shera.executors.workdir import NOT_STARTED_EXIT_CODE, container_workdir, host_path_of
from shera.model.plan import StepPlan
from shera.model.status import Status

CANCEL_CHECK_S = 0.1
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62})$")


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "step"


class PodmanExecutor:
    """Runs steps and services as podman containers of one pod; see the module docstring."""

    name = "podman"

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
        network: str = "slirp4netns",
        stop_grace: float = 5.0,
    ) -> None:
        self._explicit_env = None if env is None else dict(env)
        self._data_dir = data_dir
        self.network = network
        self.stop_grace = stop_grace
        self._cli: PodmanCli | None = None
        self._ctx: WorkflowContext | None = None
        self._pod = ""
        self._hosts: Path | None = None
        self._env_dir: Path | None = None
        self._own_run_dir: Path | None = None
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._followers: list[Stream] = []

    # -- protocol -------------------------------------------------------------------------------------

    def prepare(self, ctx: WorkflowContext) -> None:
        self._ctx = ctx
        self._pod = f"shera-{_slug(ctx.name, limit=200)}"
        env = self._explicit_env if self._explicit_env is not None else podman_environment(self._data_dir)
        self._cli = PodmanCli(env)
        run_dir = ctx.run_dir
        if run_dir is None:
            run_dir = self._own_run_dir = Path(tempfile.mkdtemp(prefix="shera-podman-"))
        run_dir.mkdir(parents=True, exist_ok=True)
        self._hosts = run_dir / "hosts"
        self._hosts.write_text("127.0.0.1 localhost\n::1 localhost\n")
        self._env_dir = run_dir / "env"
        self._env_dir.mkdir(mode=0o700, exist_ok=True)
        ctx.workspace_dir.mkdir(parents=True, exist_ok=True)
        labels = {WORKFLOW_LABEL: ctx.name, **ctx.labels}
        label_args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
        self._cli.run(
            "pod", "create", "--name", self._pod, "--network", self.network, "--no-hosts", *label_args
        )

    def start_service(self, step: StepPlan, env: Mapping[str, str], out: OutputSink) -> None:
        cli = self._require_cli()
        container, problem = self._create(step, env)
        if container is None:
            raise ExecutorError(f"service {step.name!r} could not be started: {problem}")
        self._add_host(step.name)
        cli.run("start", container)
        follower = cli.stream("logs", "--follow", container, out=out)
        with self._lock:
            self._followers.append(follower)

    def run_step(
        self,
        step: StepPlan,
        env: Mapping[str, str],
        out: OutputSink,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> StepResult:
        cli = self._require_cli()
        try:
            container, problem = self._create(step, env)
        except ExecutorError as exc:
            return StepResult(Status.FAILURE, NOT_STARTED_EXIT_CODE, error=str(exc))
        if container is None:
            return StepResult(Status.FAILURE, NOT_STARTED_EXIT_CODE, error=problem)
        if timeout is None:
            timeout = step.timeout_s
        try:
            attach = cli.stream("start", "--attach", container, out=out)
            killed = self._wait(attach, container, timeout, cancel)
            return self._result(container, killed)
        finally:
            cli.call("rm", "--force", "--volumes", "--time", "0", "--ignore", container)

    def teardown(self) -> None:
        cli, self._cli = self._cli, None
        try:
            if cli is not None and self._pod:
                self._remove_pod(cli)
        finally:
            if self._own_run_dir is not None:
                shutil.rmtree(self._own_run_dir, ignore_errors=True)
                self._own_run_dir = None

    # -- internals ------------------------------------------------------------------------------------

    def _require_cli(self) -> PodmanCli:
        if self._cli is None or self._ctx is None:
            raise ExecutorError("the podman executor was used before prepare() or after teardown()")
        return self._cli

    def _create(self, step: StepPlan, env: Mapping[str, str]) -> tuple[str | None, str]:
        """Create the step's container; its id, or ``None`` and why it could not be created."""
        cli = self._require_cli()
        ctx = self._ctx
        if ctx is None or self._hosts is None or self._env_dir is None:
            raise ExecutorError("the podman executor was used before prepare()")
        name = f"{self._pod}-{_slug(step.name)}-{next(self._counter)}"
        split = split_env(container_env(step, env))
        env_file = self._env_dir / f"{name}.env"
        args = create_args(
            step=step,
            pod=self._pod,
            name=name,
            workflow=ctx.name,
            workspace_dir=ctx.workspace_dir.resolve(),
            workspace=ctx.workspace,
            hosts_file=self._hosts,
            env_file=env_file,
            env_argv=split.argv,
        )
        host_dir = host_path_of(
            ctx.workspace_dir, ctx.workspace, container_workdir(ctx.workspace, step.directory)
        )
        if host_dir is not None:
            host_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(split.file_text)
            done = cli.call(*args)
        finally:
            env_file.unlink(missing_ok=True)
        if done.exit_code == 0:
            return done.stdout.strip(), ""
        if cli.call("image", "exists", str(step.image)).exit_code != 0:
            return (
                None,
                f"image {step.image!r} is not available locally and could not be pulled: {done.message}",
            )
        return None, f"step {step.name!r}: podman could not create its container: {done.message}"

    def _remove_pod(self, cli: PodmanCli) -> None:
        """Stop the pod (services get ``stop_grace`` seconds), let log followers drain, remove everything."""
        grace = str(max(0, round(self.stop_grace)))
        cli.call("pod", "stop", "--ignore", "--time", grace, self._pod)
        with self._lock:
            followers, self._followers = self._followers, []
        for follower in followers:
            if follower.wait(self.stop_grace) is None:
                follower.stop()
        done = cli.call("pod", "rm", "--force", "--ignore", "--time", "0", self._pod)
        if done.exit_code != 0:
            raise ExecutorError(f"pod {self._pod} could not be removed: {done.message}")

    def _add_host(self, name: str) -> None:
        if self._hosts is not None and _HOSTNAME.match(name):
            with self._lock, self._hosts.open("a") as hosts:
                hosts.write(f"127.0.0.1 {name}\n")

    def _wait(
        self, attach: Stream, container: str, timeout: float | None, cancel: threading.Event | None
    ) -> bool:
        """Wait for the attached container to end; True when the timeout or cancel killed it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if cancel is not None:
                wait = CANCEL_CHECK_S if wait is None else min(wait, CANCEL_CHECK_S)
            if attach.wait(wait) is not None:
                return False
            expired = deadline is not None and time.monotonic() >= deadline
            if expired or (cancel is not None and cancel.is_set()):
                break
        self._require_cli().call("kill", container)
        if attach.wait(self.stop_grace + 10) is None:
            attach.stop()
        return True

    def _result(self, container: str, killed: bool) -> StepResult:
        done = self._require_cli().call("container", "inspect", container)
        try:
            state = json.loads(done.stdout)[0]["State"]
        except (ValueError, LookupError, TypeError):
            state = {}
        oom = bool(state.get("OOMKilled", False))
        if killed:
            return StepResult(Status.KILLED, KILLED_EXIT_CODE, oom_killed=oom)
        if done.exit_code != 0 or not state:
            return StepResult(Status.FAILURE, NOT_STARTED_EXIT_CODE, error=done.message)
        exit_code = int(state.get("ExitCode", NOT_STARTED_EXIT_CODE))
        error = str(state.get("Error") or "") or None
        if state.get("Status") not in ("exited", "stopped"):
            return StepResult(Status.FAILURE, exit_code or NOT_STARTED_EXIT_CODE, oom, error or "did not run")
        status = Status.SUCCESS if exit_code == 0 and not oom else Status.FAILURE
        return StepResult(status, exit_code, oom_killed=oom, error=error)

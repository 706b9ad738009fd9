"""Tests of the podman executor against real podman (runc, private store, locally built busybox images)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shera.errors import ExecutorError
from shera.executors.base import KILLED_EXIT_CODE, Executor, WorkflowContext
from shera.executors.podman import PodmanExecutor
from shera.model.plan import StepKind, StepPlan, Workspace
from shera.model.status import Status
from tests.support.output import Sink
from tests.support.podman import PodmanTestEnv

pytestmark = pytest.mark.podman

Factory = Callable[..., PodmanExecutor]


def commands(
    name: str, image: str, *lines: str, kind: StepKind = StepKind.COMMANDS, **fields: object
) -> StepPlan:
    return StepPlan(name=name, kind=kind, image=image, commands=lines, **fields)  # type: ignore[arg-type]


def leftovers(podman_env: PodmanTestEnv, label: str) -> tuple[list[object], list[object]]:
    """Containers and pods of one workflow that still exist."""
    flt = f"label=io.shera.workflow={label}"
    containers = json.loads(podman_env.podman("ps", "--all", "--filter", flt, "--format", "json").stdout)
    pods = json.loads(podman_env.podman("pod", "ps", "--filter", flt, "--format", "json").stdout or "[]")
    return containers, pods


@pytest.fixture
def ctx(tmp_path: Path, request: pytest.FixtureRequest) -> WorkflowContext:
    name = "t-" + request.node.name.replace("_", "-")[:40].lower()
    return WorkflowContext(name=name, workspace_dir=tmp_path / "ws", run_dir=tmp_path / "run")


@pytest.fixture
def executor(podman_executor_factory: Factory, ctx: WorkflowContext) -> Iterator[PodmanExecutor]:
    ex = podman_executor_factory()
    ex.prepare(ctx)
    yield ex
    ex.teardown()


def test_it_implements_the_executor_protocol() -> None:
    assert isinstance(PodmanExecutor(), Executor)
    assert PodmanExecutor.name == "podman"


def test_steps_share_the_workspace_and_start_in_its_directory(
    executor: PodmanExecutor, podman_env: PodmanTestEnv, ctx: WorkflowContext
) -> None:
    out = Sink()
    write = commands("write", podman_env.busybox, "pwd", "echo hello > shared.txt")
    first = executor.run_step(write, {}, out)
    assert (first.status, first.exit_code) == (Status.SUCCESS, 0)
    assert "/woodpecker/src\n" in out.text
    assert (ctx.workspace_dir / "src" / "shared.txt").read_text() == "hello\n"

    out = Sink()
    read = commands("read", podman_env.busybox, "cat ../shared.txt", directory="sub")
    second = executor.run_step(read, {}, out)
    assert second.status is Status.SUCCESS
    assert out.text.endswith("hello\n")
    assert (ctx.workspace_dir / "src" / "sub").is_dir()


def test_exit_codes_env_and_output_order_come_from_the_container(
    executor: PodmanExecutor, podman_env: PodmanTestEnv, ctx: WorkflowContext
) -> None:
    out = Sink()
    multiline = 'multi\nline "quoted" $NOT_EXPANDED'
    step = commands(
        "fail",
        podman_env.busybox,
        'printf "%s|%s|%s|" "$MULTI" "$TOKEN" "$CONTAINERS_CONF"',
        "echo err >&2",
        "exit 3",
        "echo never",
    )
    # CONTAINERS_CONF is meant for the container: it must not reach (and break) podman itself
    env = {"MULTI": multiline, "TOKEN": "s3cr3t = x", "CONTAINERS_CONF": "/nope", "PATH": "/bin"}
    result = executor.run_step(step, env, out)
    assert (result.status, result.exit_code, result.oom_killed) == (Status.FAILURE, 3, False)
    assert f"{multiline}|s3cr3t = x|/nope|" in out.text
    assert out.text.index("/nope|") < out.text.index("err\n")
    assert "never\n" not in out.text.replace("+ echo never", "")
    assert ctx.run_dir is not None
    assert list((ctx.run_dir / "env").iterdir()) == []  # the env file is gone once the container exists


def test_the_dummy_stand_in_sleeps_and_exits_as_asked(
    executor: PodmanExecutor, podman_env: PodmanTestEnv
) -> None:
    out = Sink()
    started = time.monotonic()
    step = commands("build", podman_env.dummy, "echo building")
    result = executor.run_step(step, {"SLEEP": "300ms", "STEP_EXIT_CODE": "1"}, out)
    assert (result.status, result.exit_code) == (Status.FAILURE, 1)
    assert time.monotonic() - started >= 0.3
    assert "building\n" in out.text
    assert executor.run_step(commands("ok", podman_env.dummy, "exit 0"), {}, Sink()).status is Status.SUCCESS


def test_steps_of_one_stage_run_concurrently(executor: PodmanExecutor, podman_env: PodmanTestEnv) -> None:
    results: dict[str, object] = {}

    def run(name: str) -> None:
        step = commands(name, podman_env.busybox, f"echo {name} > {name}.txt", "sleep 1")
        results[name] = executor.run_step(step, {}, Sink())

    threads = [threading.Thread(target=run, args=(f"p{i}",)) for i in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(getattr(r, "status", None) is Status.SUCCESS for r in results.values()), results
    assert len(results) == 3
    assert time.monotonic() - started < 3 * 1 + 1.5  # overlapped, not one after the other


def test_a_plugin_step_runs_the_image_entrypoint(executor: PodmanExecutor, podman_env: PodmanTestEnv) -> None:
    plugin = StepPlan(name="plugin", kind=StepKind.PLUGIN, image=podman_env.dummy)
    result = executor.run_step(plugin, {"SLEEP": "100ms", "STEP_EXIT_CODE": "2"}, Sink())
    assert (result.status, result.exit_code) == (Status.FAILURE, 2)

    custom = StepPlan(
        name="custom", kind=StepKind.PLUGIN, image=podman_env.busybox, entrypoint=("echo", "from entrypoint")
    )
    out = Sink()
    assert executor.run_step(custom, {}, out).status is Status.SUCCESS
    assert out.text == "from entrypoint\n"


def test_a_service_is_reachable_by_name_and_on_loopback(
    executor: PodmanExecutor, podman_env: PodmanTestEnv
) -> None:
    service_out = Sink()
    web = StepPlan(
        name="web",
        kind=StepKind.SERVICE,
        image=podman_env.busybox,
        commands=("mkdir -p /tmp/www", "echo pong > /tmp/www/ping", "exec httpd -f -p 8080 -h /tmp/www"),
    )
    executor.start_service(web, {}, service_out)

    probe = commands(
        "probe",
        podman_env.busybox,
        "for i in $(seq 50); do wget -q -O /dev/null http://127.0.0.1:8080/ping && break; sleep 0.1; done",
        "wget -q -O- http://127.0.0.1:8080/ping",
        "wget -q -O- http://web:8080/ping",
    )
    out = Sink()
    result = executor.run_step(probe, {}, out)
    assert result.status is Status.SUCCESS, out.text
    assert out.text.count("pong\n") == 2

    executor.teardown()
    assert "+ exec httpd -f -p 8080 -h /tmp/www" in service_out.text


def test_timeout_and_cancel_kill_the_container(executor: PodmanExecutor, podman_env: PodmanTestEnv) -> None:
    started = time.monotonic()
    result = executor.run_step(commands("slow", podman_env.busybox, "sleep 60"), {}, Sink(), timeout=1)
    assert (result.status, result.exit_code) == (Status.KILLED, KILLED_EXIT_CODE)
    assert time.monotonic() - started < 15

    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    cancelled = executor.run_step(
        commands("slow2", podman_env.busybox, "sleep 60"), {}, Sink(), cancel=cancel
    )
    assert (cancelled.status, cancelled.exit_code) == (Status.KILLED, KILLED_EXIT_CODE)


def test_teardown_removes_every_container_and_the_pod(
    podman_executor_factory: Factory, podman_env: PodmanTestEnv, ctx: WorkflowContext
) -> None:
    ex = podman_executor_factory()
    ex.prepare(ctx)
    ex.start_service(commands("svc", podman_env.busybox, "exec sleep 600", kind=StepKind.SERVICE), {}, Sink())
    ex.run_step(commands("step", podman_env.busybox, "true"), {}, Sink())
    containers, pods = leftovers(podman_env, ctx.name)
    assert pods and containers

    ex.teardown()
    assert leftovers(podman_env, ctx.name) == ([], [])
    # every test tears its workflow down, so the whole private store is empty too
    assert podman_env.podman("ps", "--all", "--quiet").stdout == ""
    assert podman_env.podman("pod", "ps", "--quiet").stdout == ""
    assert podman_env.podman("volume", "ls", "--quiet").stdout == ""
    ex.teardown()  # idempotent


def test_ctrl_c_during_a_step_leaves_nothing_after_teardown(
    podman_executor_factory: Factory, podman_env: PodmanTestEnv, ctx: WorkflowContext
) -> None:
    ex = podman_executor_factory()
    ex.prepare(ctx)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            ex.run_step(commands("long", podman_env.busybox, "sleep 600"), {}, Sink())
    finally:
        timer.cancel()
        ex.teardown()
    assert leftovers(podman_env, ctx.name) == ([], [])


def test_a_missing_image_is_a_clear_failed_result(executor: PodmanExecutor) -> None:
    result = executor.run_step(commands("x", "localhost/shera-test/absent:1", "true"), {}, Sink())
    assert result.status is Status.FAILURE
    assert result.error is not None
    assert "localhost/shera-test/absent:1" in result.error
    assert "not available" in result.error

    with pytest.raises(ExecutorError, match="absent:1"):
        executor.start_service(
            commands("db", "localhost/shera-test/absent:1", kind=StepKind.SERVICE), {}, Sink()
        )


def test_a_missing_entrypoint_is_a_failed_result(executor: PodmanExecutor, podman_env: PodmanTestEnv) -> None:
    plugin = StepPlan(
        name="p", kind=StepKind.PLUGIN, image=podman_env.busybox, entrypoint=("/no/such/binary",)
    )
    result = executor.run_step(plugin, {}, Sink())
    assert result.status is Status.FAILURE
    assert result.exit_code != 0


def test_a_directory_escaping_the_workspace_is_refused(
    executor: PodmanExecutor, podman_env: PodmanTestEnv
) -> None:
    result = executor.run_step(commands("x", podman_env.busybox, "true", directory="../../etc"), {}, Sink())
    assert result.status is Status.FAILURE
    assert result.error is not None
    assert "outside the workspace" in result.error


def test_a_custom_workspace_is_mounted_where_asked(
    podman_executor_factory: Factory, podman_env: PodmanTestEnv, tmp_path: Path
) -> None:
    ctx = WorkflowContext(
        name="t-custom-ws", workspace_dir=tmp_path / "ws2", workspace=Workspace(base="/go", path="src/app")
    )
    ex = podman_executor_factory()
    ex.prepare(ctx)
    try:
        out = Sink()
        assert ex.run_step(commands("pwd", podman_env.busybox, "pwd", "touch here"), {}, out).exit_code == 0
        assert "+ pwd\n/go/src/app\n" in out.text
        assert (tmp_path / "ws2" / "src" / "app" / "here").is_file()
    finally:
        ex.teardown()


def test_a_failed_prepare_can_be_torn_down(podman_executor_factory: Factory, tmp_path: Path) -> None:
    ex = podman_executor_factory(network="no-such-network-mode")
    with pytest.raises(Exception, match="podman pod create failed"):
        ex.prepare(WorkflowContext(name="t-bad-network", workspace_dir=tmp_path / "ws"))
    ex.teardown()

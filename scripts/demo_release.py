"""`make demo`, the main job: push, test, build, deploy, fail, roll back — on embedded defaults, narrated.

`shera up` runs on a fresh data directory (private Redis, private registry, SQLite, podman). The example app
`examples/hello-web` lives in a local git repository; every push reaches She-Ra as a signed GitHub webhook.
v1 and v2 deploy; v3 breaks its health check and is rolled back automatically while v2 keeps answering; then
`shera rollback --to 1` brings v1 back. Everything started is stopped at the end.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(os.environ.get("SHERA_DEMO_WORK") or ROOT / ".tmp" / "demo")
DATA = WORK / "data"
TOKEN = "shera_demo_bootstrap_" + os.urandom(6).hex()
APP, ENV = "hello-web", "production"


def expect(ok: bool, what: object) -> None:
    """Stop the demo with what went wrong (the demo is also a check that the main job works)."""
    if not ok:
        raise SystemExit(f"demo failed: {json.dumps(what, indent=2, default=str)}")


def say(text: str) -> None:
    print(f"\n\033[1;35m==> {text}\033[0m", flush=True)


def info(text: str) -> None:
    print(f"    {text}", flush=True)


def shera_cmd(*args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "shera", *args], capture_output=True, text=True, env=env, check=False
    )
    if check and done.returncode != 0:
        raise SystemExit(f"shera {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Adora",
        "GIT_AUTHOR_EMAIL": "adora@etheria.test",
        "GIT_COMMITTER_NAME": "Adora",
        "GIT_COMMITTER_EMAIL": "adora@etheria.test",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


class Up:
    """`shera up` as a child process; its URL and private registry read from its output."""

    def __init__(self) -> None:
        env = {**os.environ, "SHERA_BOOTSTRAP_TOKEN": TOKEN, "SHERA_GIT_SCHEMES": "file"}
        for name in (
            "SHERA_REDIS_URL",
            "SHERA_DATABASE_URL",
            "SHERA_REGISTRY",
            "SHERA_PUBLIC_URL",
            "SHERA_CONFIG",
        ):
            env.pop(name, None)
        self.log = WORK / "shera-up.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "shera", "up", "--port", "0", "--data-dir", str(DATA)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.url = self.registry = self.exposed = ""
        deadline = time.monotonic() + 90
        while not self.url and time.monotonic() < deadline and self.process.poll() is None:
            for line in self.log.read_text().splitlines():
                if line.startswith("Private registry at "):
                    self.registry = line.removeprefix("Private registry at ").strip()
                if line.startswith("Exposed apps at "):
                    self.exposed = line.removeprefix("Exposed apps at ").strip()
                if line.startswith("She-Ra is up at "):
                    self.url = line.removeprefix("She-Ra is up at ").strip()
            time.sleep(0.1)
        if not self.url or not self.registry or not self.exposed:
            self.stop()
            raise SystemExit("shera up did not start:\n" + self.log.read_text())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def busybox_rootfs(dest: Path) -> Path:
    """A root file system with busybox and its applets as symlinks, packed as a tarball."""
    tree = WORK / "rootfs"
    (tree / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", tree / "bin" / "busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout
    for name in applets.split():
        if name != "busybox":
            (tree / "bin" / name).symlink_to("busybox")
    for folder in ("tmp", "www", "etc"):
        (tree / folder).mkdir(exist_ok=True)
    with tarfile.open(dest, "w") as tar:
        for path in sorted(tree.iterdir()):
            tar.add(path, arcname=path.name)
    return dest


def push_payload(repo_url: str, before: str, sha: str, message: str, files: list[str]) -> bytes:
    commit = {
        "id": sha,
        "message": message,
        "author": {"name": "Adora", "email": "adora@etheria.test", "username": "adora"},
        "added": [],
        "removed": [],
        "modified": files,
    }
    payload = {
        "ref": "refs/heads/main",
        "before": before,
        "after": sha,
        "created": before == "0" * 40,
        "deleted": False,
        "repository": {
            "full_name": f"etheria/{APP}",
            "name": APP,
            "owner": {"login": "etheria", "name": "etheria"},
            "clone_url": repo_url,
            "default_branch": "main",
        },
        "head_commit": commit,
        "commits": [commit],
        "pusher": {"name": "adora"},
        "sender": {"login": "adora"},
    }
    return json.dumps(payload).encode()


class Demo:
    def __init__(self, up: Up) -> None:
        self.up = up
        self.admin = httpx.Client(base_url=up.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        self.work = WORK / "src" / APP
        self.bare = WORK / "src" / f"{APP}.git"
        self.head = "0" * 40
        self.client: httpx.Client
        self.project: dict[str, Any]
        self.cli_env = {**os.environ, "SHERA_URL": up.url, "XDG_CONFIG_HOME": str(WORK / "config")}
        self.exposed_host = ""

    def register(self) -> None:
        tenant = self.admin.post("/api/v1/tenants", json={"name": "etheria"}).raise_for_status().json()
        token = (
            self.admin.post(f"/api/v1/tenants/{tenant['id']}/tokens", json={"name": "demo", "role": "admin"})
            .raise_for_status()
            .json()["token"]
        )
        self.cli_env["SHERA_TOKEN"] = token
        self.client = httpx.Client(
            base_url=self.up.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        shutil.copytree(ROOT / "examples" / APP, self.work)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.bare)], check=True)
        git(self.work, "init", "-q", "-b", "main")
        git(self.work, "remote", "add", "origin", str(self.bare))
        self.project = (
            self.client.post(
                "/api/v1/projects",
                json={
                    "name": APP,
                    "forge": "github",
                    "clone_url": self.bare.as_uri(),
                    "default_branch": "main",
                    "executor": "local",
                    "trusted": True,
                },
            )
            .raise_for_status()
            .json()
        )
        info(f"tenant etheria, project {APP}: webhook {self.project['hook_url']}")

    def push(self, message: str, edit: dict[str, str | None]) -> dict[str, Any]:
        for name, text in edit.items():
            path = self.work / name
            if text is None:
                path.unlink()
            else:
                path.write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "HEAD:refs/heads/main")
        sha = git(self.work, "rev-parse", "HEAD")
        body = push_payload(self.bare.as_uri(), self.head, sha, message, sorted(edit))
        self.head = sha
        signature = (
            "sha256=" + hmac.new(self.project["webhook_secret"].encode(), body, hashlib.sha256).hexdigest()
        )
        answer = httpx.post(
            self.project["hook_url"],
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": f"demo-{sha[:12]}",
                "X-Hub-Signature-256": signature,
            },
            timeout=30,
        )
        info(f'git push {sha[:8]} "{message}" → webhook {answer.status_code} {answer.json()["status"]}')
        return self.wait(answer.json()["run_id"])

    def wait(self, run_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            run: dict[str, Any] = self.client.get(f"/api/v1/runs/{run_id}").raise_for_status().json()
            if run["status"] in ("success", "failure", "killed"):
                steps = ", ".join(f"{s['name']} {s['status']}" for s in run["steps"])
                info(f"run #{run['number']} {run['status']}: {steps}")
                return run
            time.sleep(0.3)
        raise SystemExit(f"run {run_id} did not finish in time")

    def host(self) -> str:
        """The virtual host the balancer serves the app under (``GET /api/v1/exposures``)."""
        for row in self.client.get("/api/v1/exposures").raise_for_status().json()["data"]:
            if row["app"] == APP:
                return str(row["host"])
        return ""

    def get(self) -> httpx.Response:
        """One request through the exposed URL: the platform's balancer, not an instance directly."""
        return httpx.get(self.up.exposed, headers={"Host": self.exposed_host}, timeout=2)

    def answer(self) -> str:
        try:
            text = self.get().text
        except httpx.HTTPError as exc:
            return f"(nothing answers: {exc})"
        for line in text.splitlines():
            if "Hello" in line:
                return line.strip().removeprefix("<p>").removesuffix("</p>")
        return f"(no greeting: {text.strip()[:80]})"


class Loop(threading.Thread):
    """Requests the app through the exposed URL while a release rolls out; counts what failed."""

    def __init__(self, demo: Demo) -> None:
        super().__init__(daemon=True)
        self.demo, self.ok, self.failed = demo, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            try:
                ok = self.demo.get().status_code == 200
            except httpx.HTTPError:
                ok = False
            self.ok, self.failed = self.ok + ok, self.failed + (not ok)


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    say("Start She-Ra on embedded defaults: `shera up` (private Redis, private registry, SQLite, podman)")
    up = Up()
    info(f"API {up.url}, registry {up.registry}, balancer (public zone) {up.exposed}")
    demo = Demo(up)
    try:
        say("Seed the base image: there is no public registry, so import a busybox root file system")
        tarball = busybox_rootfs(WORK / "busybox-rootfs.tar")
        ref = shera_cmd(
            "images",
            "import",
            str(tarball),
            f"{up.registry}/library/busybox:stable",
            "--cmd",
            "/bin/sh",
            "--data-dir",
            str(DATA),
            env={**os.environ, "SHERA_INSECURE_REGISTRIES": up.registry},
        ).strip()
        info(ref)

        say("Register the app repository as a project of tenant etheria")
        demo.register()

        say("Push v1: tested, built, pushed, deployed on podman (2 replicas, health-checked), exposed")
        run = demo.push("hello-web v1", {})
        expect(run["status"] == "success", run)
        demo.exposed_host = demo.host()
        info(f"exposed as http://{demo.exposed_host} on the balancer {up.exposed}")
        info(f"answering: {demo.answer()}")

        say("Push v2: a rolling update, new instances healthy before old ones stop")
        run = demo.push(
            "hello-web v2", {"www/index.html": (demo.work / "www/index.html").read_text().replace("1", "2")}
        )
        expect(run["status"] == "success", run)
        info(f"answering: {demo.answer()}")

        say("Push v3 with a broken health check: the rollout fails and She-Ra rolls back to v2 on its own")
        loop = Loop(demo)
        loop.start()
        run = demo.push(
            "hello-web v3 (forgot /healthz)",
            {
                "www/index.html": (demo.work / "www/index.html").read_text().replace("2", "3"),
                "www/healthz": None,
            },
        )
        loop.stop.set()
        loop.join()
        expect(run["status"] == "failure", run)
        info(f"answering: {demo.answer()} ({loop.ok} requests during the rollout, {loop.failed} failed)")

        say(f"Roll back to release 1: `shera rollback {APP} -e {ENV} --to 1`")
        started = time.monotonic()
        print(shera_cmd("rollback", APP, "-e", ENV, "--to", "1", env=demo.cli_env), end="")
        while "version 1" not in demo.answer() and time.monotonic() - started < 30:
            time.sleep(0.02)
        info(f"answering: {demo.answer()} ({time.monotonic() - started:.2f} s after the command)")

        say(f"Release history: `shera history {APP} -e {ENV}`: one deploy-repository commit per release")
        print(shera_cmd("history", APP, "-e", ENV, env=demo.cli_env), end="")
        say(f"Cleaning up: `shera app delete {APP} -e {ENV}`, then stop `shera up`")
        shera_cmd("app", "delete", APP, "-e", ENV, env=demo.cli_env, check=False)
    finally:
        up.stop()
    say("Done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""buildah for real: build FROM scratch, push to a private registry, cache, secrets, retries, cancel."""

from __future__ import annotations

import http.server
import json
import re
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shera.build.buildah import Buildah
from shera.build.errors import BuildFailed, BuildInterrupted, PushRejected, RegistryUnavailable
from shera.build.store import ImageStore
from tests.support.imagebuild import Log, buildah, busybox_context, podman, registry_digest
from tests.support.registry import HtpasswdRegistry, free_port

# Fixtures imported by name (tests/conftest.py does not list these support plugins yet).

pytestmark = pytest.mark.podman

SECRET = "grayskull-Secret-7f3a9c"


def tool(data_dir: Path, insecure: frozenset[str] = frozenset()) -> Buildah:
    return Buildah(ImageStore(data_dir, "local").env(insecure), insecure=insecure)


def busybox_image(b: Buildah, tmp_path: Path) -> str:
    """Builds the plain busybox context as ``localhost/a:1`` with ``b``; returns the image id."""
    context = busybox_context(tmp_path / "ctx")
    built = b.build(
        context, context / "Containerfile", tags=["localhost/a:1"], iidfile=tmp_path / "i", out=Log()
    )
    return built.image_id


def test_build_and_push_records_the_registry_digest(
    build_data_dir: Path, registry: str, tmp_path: Path
) -> None:
    context = busybox_context(tmp_path / "ctx", 'ARG GREETING\nRUN echo "$GREETING" > /greeting\n')
    b = tool(build_data_dir, frozenset({registry}))
    out = Log()
    refs = [f"{registry}/team/app:one", f"{registry}/team/app:two"]
    built = b.build(
        context,
        context / "Containerfile",
        tags=refs,
        iidfile=tmp_path / "iid",
        build_args={"GREETING": "hello"},
        labels={"org.opencontainers.image.revision": "abc123"},
        out=out,
    )
    assert built.image_id.startswith("sha256:") or re.fullmatch(r"[0-9a-f]{64}", built.image_id)
    assert "STEP 1/" in out.text  # buildah's own output reached the sink
    inspect = json.loads(buildah(build_data_dir, "inspect", "--type", "image", refs[1]))
    assert inspect["OCIv1"]["config"]["Labels"]["org.opencontainers.image.revision"] == "abc123"

    digest = b.push(built.image_id, refs[0], digestfile=tmp_path / "digest", out=out)

    assert digest == registry_digest(registry, "team/app", "one")
    assert digest.startswith("sha256:")


def test_second_build_of_unchanged_context_hits_the_layer_cache(build_data_dir: Path, tmp_path: Path) -> None:
    context = busybox_context(tmp_path / "ctx", "RUN echo built > /stamp\n")
    b = tool(build_data_dir)
    first, second = Log(), Log()
    started = time.monotonic()
    b.build(context, context / "Containerfile", tags=["localhost/app:a"], iidfile=tmp_path / "1", out=first)
    cold = time.monotonic() - started
    started = time.monotonic()
    b.build(context, context / "Containerfile", tags=["localhost/app:a"], iidfile=tmp_path / "2", out=second)
    warm = time.monotonic() - started
    assert "Using cache" not in first.text
    assert second.text.count("Using cache") == 3  # COPY and both RUN steps
    assert warm < cold


def test_build_secret_reaches_the_run_but_no_layer_nor_history(build_data_dir: Path, tmp_path: Path) -> None:
    context = busybox_context(
        tmp_path / "ctx",
        "RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /token-size\n"
        "RUN --mount=type=secret,id=token cat /run/secrets/token | md5sum > /token-md5\n",
    )
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o600)
    b = tool(build_data_dir)
    built = b.build(
        context,
        context / "Containerfile",
        tags=["localhost/secretive:1"],
        iidfile=tmp_path / "iid",
        secrets={"token": secret_file},
        out=Log(),
    )

    # buildah 1.28 has no `history` command: podman reads the same store; the image config too.
    history = podman(build_data_dir, "history", "--no-trunc", "--format", "{{.CreatedBy}}", built.image_id)
    config = buildah(build_data_dir, "inspect", "--type", "image", built.image_id)
    assert "token" in history  # the RUN lines are there...
    assert SECRET not in history  # ...but not the value
    assert SECRET not in config
    archive = tmp_path / "image.tar"
    buildah(build_data_dir, "push", built.image_id, f"oci-archive:{archive}")
    contents = _layer_contents(archive, tmp_path / "unpacked")
    assert contents["token-size"].strip() == str(len(SECRET))  # the RUN did read the secret
    assert all(SECRET.encode() not in data for data in contents.values() if isinstance(data, bytes))
    assert all(SECRET not in text for text in contents.values() if isinstance(text, str))
    assert not any("run/secrets/token" in name for name in contents)


def _layer_contents(archive: Path, dest: Path) -> dict[str, bytes | str]:
    """Every file of every layer (by path, ``token-size`` decoded) plus every raw blob of the archive."""
    dest.mkdir()
    with tarfile.open(archive) as outer:
        outer.extractall(dest, filter="data")
    found: dict[str, bytes | str] = {}
    blobs = sorted((dest / "blobs").rglob("*"))
    for blob in (p for p in blobs if p.is_file()):
        found[f"blob:{blob.name}"] = blob.read_bytes()
        if not tarfile.is_tarfile(blob):
            continue  # the config and manifest blobs are JSON
        with tarfile.open(blob, mode="r:*") as layer:
            for member in layer.getmembers():
                handle = layer.extractfile(member) if member.isfile() else None
                data = handle.read() if handle else b""
                name = member.name.lstrip("./")
                found[name] = data.decode() if name == "token-size" else data
    assert any(name.startswith("blob:") for name in found) and "bin/busybox" in found
    return found


def test_registry_down_fails_after_the_retry_budget(build_data_dir: Path, tmp_path: Path) -> None:
    down = f"127.0.0.1:{free_port()}"
    b = tool(build_data_dir, frozenset({down}))
    image = busybox_image(b, tmp_path)
    out = Log()
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable) as failed:
        b.push(image, f"{down}/a:1", digestfile=tmp_path / "d", out=out, retries=2, backoff=0.2)
    elapsed = time.monotonic() - started
    message = str(failed.value)
    assert f"failed after 3 attempt(s): registry {down} unavailable" in message
    assert "connection refused" in message
    assert out.text.count("push attempt") == 2
    assert "retrying in 0.2 s" in out.text and "retrying in 0.4 s" in out.text  # exponential backoff
    assert elapsed >= 0.6


@pytest.fixture
def failing_registry() -> Iterator[tuple[str, list[str]]]:
    """A registry stand-in that answers 503 to everything; yields its address and the requests it saw."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _fail(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.send_response(503, "Service Unavailable")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _fail  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_5xx_answers_are_retried_then_reported(
    build_data_dir: Path, tmp_path: Path, failing_registry: tuple[str, list[str]]
) -> None:
    address, seen = failing_registry
    b = tool(build_data_dir, frozenset({address}))
    image = busybox_image(b, tmp_path)
    out = Log()
    with pytest.raises(RegistryUnavailable) as failed:
        b.push(image, f"{address}/a:1", digestfile=tmp_path / "d", out=out, retries=1, backoff=0.1)
    assert "after 2 attempt(s)" in str(failed.value)
    assert out.text.count("push attempt") == 1
    assert seen  # buildah did reach the registry


def test_refused_credentials_are_not_retried(
    build_data_dir: Path, tmp_path: Path, registry_htpasswd: HtpasswdRegistry
) -> None:
    address = registry_htpasswd.address
    b = tool(build_data_dir, frozenset({address}))
    image = busybox_image(b, tmp_path)
    out = Log()
    with pytest.raises(PushRejected) as refused:
        b.push(image, f"{address}/a:1", digestfile=tmp_path / "d", out=out, retries=3, backoff=5)
    assert "refused" in str(refused.value)
    assert re.search(r"unauthorized|authentication required", str(refused.value), re.IGNORECASE)
    assert "push attempt" not in out.text


def test_registries_not_named_insecure_are_tls_verified(
    build_data_dir: Path, registry: str, tmp_path: Path
) -> None:
    b = tool(build_data_dir)  # the plain-HTTP registry is not in the insecure list
    image = busybox_image(b, tmp_path)
    with pytest.raises(PushRejected) as refused:
        b.push(image, f"{registry}/a:1", digestfile=tmp_path / "d", out=Log(), retries=0)
    assert "HTTP response to HTTPS client" in str(refused.value)


def test_failed_build_says_why(build_data_dir: Path, tmp_path: Path) -> None:
    context = busybox_context(tmp_path / "ctx", "RUN exit 7\n")
    with pytest.raises(BuildFailed) as failed:
        tool(build_data_dir).build(
            context, context / "Containerfile", tags=["localhost/a:1"], iidfile=tmp_path / "i", out=Log()
        )
    assert "exit code" in str(failed.value)


def test_cancel_stops_a_running_build(build_data_dir: Path, tmp_path: Path) -> None:
    context = busybox_context(tmp_path / "ctx", "RUN sleep 60\n")
    cancel = threading.Event()
    threading.Timer(2.0, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(BuildInterrupted) as stopped:
        tool(build_data_dir).build(
            context,
            context / "Containerfile",
            tags=["localhost/a:1"],
            iidfile=tmp_path / "i",
            out=Log(),
            cancel=cancel,
        )
    assert stopped.value.reason == "cancelled"
    assert time.monotonic() - started < 15


def test_timeout_stops_a_running_build(build_data_dir: Path, tmp_path: Path) -> None:
    context = busybox_context(tmp_path / "ctx", "RUN sleep 60\n")
    with pytest.raises(BuildInterrupted) as stopped:
        tool(build_data_dir).build(
            context,
            context / "Containerfile",
            tags=["localhost/a:1"],
            iidfile=tmp_path / "i",
            out=Log(),
            timeout=2,
        )
    assert stopped.value.reason == "timeout"

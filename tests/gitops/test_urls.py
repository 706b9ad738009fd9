"""Tests of clone URL checks and credential redaction (pure functions)."""

from __future__ import annotations

import pytest

from shera.gitops.errors import UnsafeURL
from shera.gitops.urls import redact, strip_credentials, transport_of

DEFAULT = frozenset({"https", "ssh"})
EVERYTHING = frozenset({"https", "http", "ssh", "git", "file"})


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("https://github.com/org/repo.git", "https"),
        ("https://user:token@gitlab.example.com:8443/group/sub/repo.git", "https"),
        ("ssh://git@github.com/org/repo.git", "ssh"),
        ("ssh://git@[::1]:2222/org/repo.git", "ssh"),
        ("git+ssh://git@host/repo", "ssh"),
        ("git@github.com:org/repo.git", "ssh"),
        ("host.example:repo.git", "ssh"),
    ],
)
def test_default_schemes_accept_plain_https_and_ssh(url: str, transport: str) -> None:
    assert transport_of(url, DEFAULT) == transport


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("git://127.0.0.1:9418/repo", "git"),
        ("http://127.0.0.1/repo", "http"),
        ("file:///srv/git/repo.git", "file"),
        ("file://localhost/srv/git/repo.git", "file"),
        ("/srv/git/repo.git", "file"),
    ],
)
def test_other_transports_pass_when_allowed(url: str, transport: str) -> None:
    assert transport_of(url, EVERYTHING) == transport
    with pytest.raises(UnsafeURL, match="allowed"):
        transport_of(url, DEFAULT)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "empty"),
        ("ext::sh -c touch% /tmp/pwned", "whitespace"),
        ("ext::sh", "remote-helper"),
        ("fd::3", "remote-helper"),
        ("https::example.com/repo", "remote-helper"),
        ("--upload-pack=touch /tmp/x", "starts with '-'"),
        ("--upload-pack=touch", "starts with '-'"),
        ("-oProxyCommand=touch%20/tmp/x", "starts with '-'"),
        ("ssh://-oProxyCommand=touch/repo", "host"),
        ("ssh://-oProxyCommand=x@host/repo", "user"),
        ("-oProxyCommand=x@host:repo", "starts with '-'"),
        ("-host:repo", "starts with '-'"),
        ("host:-repo", "path"),
        ("https://host/repo\nx", "control"),
        ("https://host/repo%0a", "control"),
        ("https://host/re po", "whitespace"),
        ("https://host/repo\u202e", "control"),
        ("https:///repo", "host"),
        ("https://host", "path"),
        ("https://host:99999/repo", "malformed"),
        ("gopher://host/repo", "unknown scheme"),
        ("file://otherhost/srv/repo", "host"),
        ("relative/path", "absolute"),
        ("https://h/" + "a" * 5000, "longer"),
    ],
)
def test_hostile_or_malformed_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeURL, match=why):
        transport_of(url, EVERYTHING)


def test_local_paths_need_file_allowed() -> None:
    with pytest.raises(UnsafeURL, match="local paths need the 'file' scheme"):
        transport_of("/srv/git/repo.git", frozenset({"https", "ssh", "git"}))


def test_refusal_message_redacts_credentials() -> None:
    with pytest.raises(UnsafeURL) as caught:
        transport_of("http://alice:hunter2@host/repo", DEFAULT)
    assert "hunter2" not in str(caught.value)
    assert "alice:***@host" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "fatal: unable to access 'https://user:pw@host/r/': 403",
            "fatal: unable to access 'https://user:***@host/r/': 403",
        ),
        ("https://ghp_token123@github.com/o/r", "https://***@github.com/o/r"),
        ("ssh://git@host/r and git://h/r", "ssh://git@host/r and git://h/r"),
        ("ssh://git:secret@host/r", "ssh://git:***@host/r"),
        ("no url here", "no url here"),
    ],
)
def test_redact_hides_passwords_and_http_tokens(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:token@host/o/r.git", "https://host/o/r.git"),
        ("https://token@host/o/r.git", "https://host/o/r.git"),
        ("ssh://git:pw@host/r", "ssh://git@host/r"),
        ("git@host:o/r.git", "git@host:o/r.git"),
        ("file:///srv/r", "file:///srv/r"),
    ],
)
def test_strip_credentials_keeps_no_secret(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected

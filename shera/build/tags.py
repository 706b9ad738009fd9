"""Adapters layer (build): which tags an image gets, and the OCI tag and repository grammars (pure functions).

Tag templates (``with.tags``) arrive already filled: the planner substitutes ``${CI_*}`` placeholders in
every ``with:`` value, as Woodpecker does for the whole pipeline file. What is left here is to make each
result a valid tag (``sanitize_tag``) and, without templates, to choose the defaults (``default_tags``):

- the short commit sha (8 characters);
- the branch slug (``feature/Login`` -> ``feature-login``) for pushes; ``pr-<N>`` for pull requests;
- for a git tag that is a semantic version (``v1.4.2``): ``1.4.2``, and for releases (no pre-release part)
  also ``1.4`` and ``1``; another git tag is used as it is, sanitized;
- ``latest`` for a push to the default branch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

OCI_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
SHORT_SHA = 8
_SEMVER = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


def sanitize_tag(raw: str) -> str | None:
    """``raw`` made a valid OCI tag: characters outside ``[A-Za-z0-9._-]`` become ``-``, leading ``.``/``-``
    are dropped, the result is cut to 128 characters. ``None`` when nothing usable is left."""
    tag = re.sub(r"[^A-Za-z0-9._-]+", "-", raw.strip())
    tag = tag.lstrip(".-")[:128]
    return tag if tag and OCI_TAG.match(tag) else None


def branch_slug(branch: str) -> str | None:
    """A branch name as a tag: lower case, every run of other characters one ``-`` (``feature/x`` ->
    ``feature-x``), no leading or trailing separators."""
    slug = re.sub(r"[^a-z0-9._]+", "-", branch.lower()).strip(".-_")
    return sanitize_tag(slug)


def semver_tags(git_tag: str) -> list[str]:
    """Tags for a semantic-version git tag: ``[version, major.minor, major]`` (only the version for a
    pre-release); ``[]`` when ``git_tag`` is not a semantic version."""
    match = _SEMVER.match(git_tag)
    if match is None:
        return []
    major, minor, patch, pre, build = match.group("major", "minor", "patch", "pre", "build")
    version = f"{major}.{minor}.{patch}" + (f"-{pre}" if pre else "") + (f"-{build}" if build else "")
    tags = [version]
    if not pre:
        tags += [f"{major}.{minor}", major]
    return [tag for tag in (sanitize_tag(t) for t in tags) if tag]


def default_tags(
    *,
    sha: str,
    branch: str | None = None,
    git_tag: str | None = None,
    default_branch: str | None = None,
    pull_request: int | None = None,
) -> list[str]:
    """The default tags of a build (see the module docstring); never empty when ``sha`` is given."""
    tags: list[str] = []
    if sha:
        tags.append(sha[:SHORT_SHA])
    if git_tag:
        tags += semver_tags(git_tag) or [t for t in [sanitize_tag(git_tag)] if t]
    elif pull_request is not None:
        tags.append(f"pr-{pull_request}")
    elif branch:
        slug = branch_slug(branch)
        if slug:
            tags.append(slug)
        if default_branch and branch == default_branch:
            tags.append("latest")
    return unique(tags)


def image_tags(templates: Iterable[str]) -> tuple[list[str], list[str]]:
    """The filled ``templates`` sanitized and without duplicates, and those that became nothing (e.g. a
    ``${CI_COMMIT_TAG}`` template on a branch push); the caller skips or reports the second list."""
    tags: list[str] = []
    empty: list[str] = []
    for template in templates:
        tag = sanitize_tag(template)
        if tag is None:
            empty.append(template)
        else:
            tags.append(tag)
    return unique(tags), empty


def unique(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, first occurrence kept."""
    return list(dict.fromkeys(items))


def repository_component(text: str) -> str:
    """``text`` as one path component of a repository name (``[a-z0-9]+`` joined by ``.``, ``_``, ``-``);
    ``"x"`` when nothing is left."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug if slug and _COMPONENT.match(slug) else "x"

"""Steps layer: the validated value types shared by the step kinds' ``with:`` models.

Each type is an ``Annotated`` alias that checks the value and states its JSON Schema, so the pipeline
schema and the validation agree. Errors are ``PydanticCustomError`` with a message naming the bad value;
pydantic adds the field path (``loc``). Names that later reach generated configs (apps, environments,
volumes, hosts) are strict RFC 1123 labels, so nothing from a repository can inject into an nginx, haproxy
or Kubernetes document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, WithJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

SLUG_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
OCI_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|Ei|K|M|G|T|P|E)?$"
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$|^[0-9]+(\.[0-9]+)?$"
LABEL_KEY_PATTERN = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"

_SLUG = re.compile(SLUG_PATTERN)
_ENV_NAME = re.compile(ENV_NAME_PATTERN)
_OCI_TAG = re.compile(OCI_TAG_PATTERN)
_QUANTITY = re.compile(QUANTITY_PATTERN)
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_DURATION = re.compile(DURATION_PATTERN)
_LABEL_KEY = re.compile(LABEL_KEY_PATTERN)
# ${NAME}, ${NAME:0:8}, ${NAME##*/}, ... and $NAME: the substitution syntax Woodpecker users write.
_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*[^{}$]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
# host[:port]/path with lowercase path components, as the distribution reference grammar has it.
_REPOSITORY = re.compile(
    r"^(?:[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(?:\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")
_DURATION_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def invalid(kind: str, template: str, **ctx: Any) -> PydanticCustomError:
    """A validation error of type ``kind`` whose message is ``template`` formatted with ``ctx`` (str.format).

    The message is final text: pydantic does not substitute anything in it, so user values containing
    braces are shown as written.
    """
    return PydanticCustomError(kind, template.format(**ctx))


def located(
    title: str, errors: Sequence[tuple[tuple[str | int, ...], PydanticCustomError, Any]]
) -> ValidationError:
    """Errors below the field being validated: each ``(loc, error, input)`` keeps its own path.

    Raised from a field validator, pydantic prefixes each ``loc`` with the field's own path, so a cross-field
    rule can point at ``volumes[1].shared`` rather than at ``volumes``.
    """
    details = [InitErrorDetails(type=error, loc=loc, input=value) for loc, error, value in errors]
    return ValidationError.from_exception_data(title, details)


def check_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise invalid(
            "slug",
            "{value!r} is not a valid name: use 1-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
            value=value,
        )
    return value


def check_hostname(value: str) -> str:
    labels = value.split(".")
    if len(value) > 253 or not all(_SLUG.match(label) for label in labels):
        raise invalid(
            "hostname",
            "{value!r} is not a valid host name: dot-separated labels of lowercase letters, digits and '-' "
            "(each 1-63 characters, not starting or ending with '-')",
            value=value,
        )
    return value


def check_env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise invalid(
            "env_name",
            "{value!r} is not a valid variable name: letters, digits and '_', not starting with a digit",
            value=value,
        )
    return value


def substitute_placeholders(value: str, stand_in: str = "x") -> str:
    """``value`` with every ``${...}``/``$NAME`` placeholder replaced by ``stand_in`` (for grammar checks)."""
    return _PLACEHOLDER.sub(stand_in, value)


def _check_no_stray_dollar(value: str, what: str) -> str:
    rest = substitute_placeholders(value)
    if "$" in rest:
        raise invalid(
            "template",
            "{value!r} has an unterminated or invalid placeholder in {what}: write ${{NAME}} or $NAME",
            value=value,
            what=what,
        )
    return rest


def check_oci_tag(value: str) -> str:
    """A tag template: after placeholders are filled it must match the OCI tag grammar."""
    rest = _check_no_stray_dollar(value, "the tag")
    if not _OCI_TAG.match(rest):
        raise invalid(
            "oci_tag",
            "tag {value!r} does not match the OCI tag grammar: 1-128 of letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-' (placeholders such as ${{CI_COMMIT_SHA}} are allowed)",
            value=value,
        )
    return value


def check_repository(value: str) -> str:
    """An image repository (``[host[:port]/]path``), placeholders allowed; no tag or digest."""
    rest = _check_no_stray_dollar(value, "the repository")
    if not _REPOSITORY.match(rest):
        raise invalid(
            "repository",
            "{value!r} is not a valid image repository: [host[:port]/]name with lowercase path components "
            "and no tag or digest",
            value=value,
        )
    return value


def check_image_ref(value: str) -> str:
    """An image reference ``repository[:tag][@digest]``, placeholders allowed."""
    rest = _check_no_stray_dollar(value, "the image")
    name, _, digest = rest.partition("@")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    ok = bool(_REPOSITORY.match(name)) and (not tag or bool(_OCI_TAG.match(tag)))
    if digest and not re.match(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$", digest):
        ok = False
    if not ok:
        raise invalid(
            "image",
            "{value!r} is not a valid image reference: [host[:port]/]name[:tag][@digest]",
            value=value,
        )
    return value


def check_relative_path(value: str) -> str:
    """A path inside the workspace, checked lexically (symlinks are resolved at run time)."""
    path = PurePosixPath(value)
    if not value or "\0" in value or "\\" in value:
        raise invalid("path", "{value!r} is not a usable path", value=value)
    if path.is_absolute():
        raise invalid("path", "{value!r} must be relative to the workspace, not absolute", value=value)
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            raise invalid("path", "{value!r} escapes the workspace with '..'", value=value)
    return value


def check_absolute_path(value: str) -> str:
    """An absolute path of plain characters (it may reach a generated config)."""
    if not _SAFE_PATH.match(value) or "/../" in f"{value}/":
        raise invalid(
            "path",
            "{value!r} must be an absolute path of letters, digits and '._~/-' without '..'",
            value=value,
        )
    return value


def check_url_path(value: str) -> str:
    if not value.startswith("/"):
        raise invalid("url_path", "path {value!r} must start with '/'", value=value)
    return check_absolute_path(value)


def check_quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise invalid(
            "quantity",
            "{value!r} is not a size or amount: a number with an optional unit such as 500m, 1Gi or 512Mi",
            value=value,
        )
    return value


def check_label_key(value: str) -> str:
    if len(value) > 316 or not _LABEL_KEY.match(value):
        raise invalid("label_key", "{value!r} is not a valid label key: [prefix/]name", value=value)
    return value


def parse_duration(value: Any) -> Any:
    """Seconds from ``120``, ``"120s"``, ``"2m"``, ``"1h30m"`` or ``"500ms"``; other input is left to fail."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not _DURATION.match(text):
            raise invalid(
                "duration",
                "{value!r} is not a duration: seconds (120) or a string like '90s', '2m', '1h30m'",
                value=value,
            )
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
            return float(text)
        return sum(float(n) * _DURATION_UNIT[unit] for n, unit in _DURATION_PART.findall(text))
    if isinstance(value, int):
        return float(value)
    return value


def scalar_to_str(value: Any) -> Any:
    """YAML scalars as strings (``8080`` → ``"8080"``, ``true`` → ``"true"``), the way they reach an env."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _string(pattern: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", **extra}
    if pattern:
        schema["pattern"] = pattern
    return schema


Slug = Annotated[str, AfterValidator(check_slug), WithJsonSchema(_string(SLUG_PATTERN, maxLength=63))]
Hostname = Annotated[str, AfterValidator(check_hostname), WithJsonSchema(_string(maxLength=253))]
EnvName = Annotated[str, AfterValidator(check_env_name), WithJsonSchema(_string(ENV_NAME_PATTERN))]
TagTemplate = Annotated[str, AfterValidator(check_oci_tag), WithJsonSchema(_string(minLength=1))]
Repository = Annotated[str, AfterValidator(check_repository), WithJsonSchema(_string(minLength=1))]
ImageRef = Annotated[str, AfterValidator(check_image_ref), WithJsonSchema(_string(minLength=1))]
RelPath = Annotated[str, AfterValidator(check_relative_path), WithJsonSchema(_string(minLength=1))]
AbsPath = Annotated[str, AfterValidator(check_absolute_path), WithJsonSchema(_string("^/"))]
UrlPath = Annotated[str, AfterValidator(check_url_path), WithJsonSchema(_string("^/"))]
Quantity = Annotated[
    str,
    BeforeValidator(scalar_to_str),
    AfterValidator(check_quantity),
    WithJsonSchema({"type": ["string", "number"], "pattern": QUANTITY_PATTERN}),
]
LabelKey = Annotated[str, AfterValidator(check_label_key), WithJsonSchema(_string(LABEL_KEY_PATTERN))]
ScalarStr = Annotated[
    str, BeforeValidator(scalar_to_str), WithJsonSchema({"type": ["string", "number", "boolean"]})
]
Port = Annotated[int, Strict(), Field(ge=1, le=65535)]
Flag = Annotated[bool, Strict()]
Delay = Annotated[
    float,
    Strict(),
    BeforeValidator(parse_duration),
    Field(ge=0),
    WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": DURATION_PATTERN}]}
    ),
]
Duration = Annotated[
    float,
    Strict(),
    BeforeValidator(parse_duration),
    Field(gt=0),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": DURATION_PATTERN},
            ]
        }
    ),
]

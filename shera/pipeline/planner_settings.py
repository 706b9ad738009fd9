"""Pipeline layer (planner part): plugin ``settings`` to ``PLUGIN_*`` variables, by Woodpecker's rule.

- the name is ``PLUGIN_`` + the key upper-cased, with ``.`` and ``-`` turned into ``_``;
- ``null`` values are dropped; booleans are ``true``/``false``; numbers print as Go's ``%v`` does
  (``1.10`` -> ``1.1``, ``1e6`` -> ``1e+06``);
- a list of scalars is joined with commas (``[a, b]`` -> ``a,b``; ``[]`` -> empty);
- ``{from_secret: name}`` is not a value but a secret reference: it goes to the step's secrets;
- anything else (maps, lists holding maps or lists) is JSON with sorted keys, as Woodpecker's YAML-to-JSON
  conversion gives. A ``from_secret`` nested inside such a value cannot be resolved while planning and is kept
  as ``{"from_secret": "name"}`` in the JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def plugin_key(key: str) -> str:
    return "PLUGIN_" + key.replace(".", "_").replace("-", "_").upper()


def secret_name(value: Any) -> str | None:
    """The secret a ``{from_secret: name}`` mapping refers to, else ``None``."""
    if isinstance(value, Mapping) and "from_secret" in value and isinstance(value["from_secret"], str):
        return value["from_secret"]
    return None


def settings_env(settings: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """``(environment, secrets)`` for ``settings``; secrets map a ``PLUGIN_*`` name to a secret name."""
    env: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for key, value in settings.items():
        if value is None or not key:
            continue
        name = plugin_key(str(key))
        secret = secret_name(value)
        if secret is not None:
            secrets[name] = secret
        else:
            env[name] = setting_text(value)
    return env, secrets


def setting_text(value: Any) -> str:
    """One setting value as the string its environment variable holds."""
    if _is_scalar(value):
        return _scalar(value)
    if isinstance(value, list | tuple) and all(item is None or _is_scalar(item) for item in value):
        return ",".join("" if item is None else _scalar(item) for item in value)
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool | int | float)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def go_float(value: float) -> str:
    """A float as Go's ``%v`` prints it: shortest digits, exponent form below 1e-4 and from 1e6 on."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    number = Decimal(repr(abs(value))).normalize()
    sign = "-" if value < 0 else ""
    exponent = number.adjusted()
    if -4 <= exponent < 6:
        return sign + format(number, "f")
    digits = "".join(str(digit) for digit in number.as_tuple().digits)
    body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{body}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value

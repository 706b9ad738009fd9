"""Unit tests of the WSGI application (standard library only: ``python3 -m unittest``)."""

from __future__ import annotations

import json
import unittest
from typing import Any
from wsgiref.util import setup_testing_defaults

from app.wsgi import application


def call(path: str) -> tuple[str, bytes]:
    environ: dict[str, Any] = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    seen: list[str] = []
    body = b"".join(application(environ, lambda status, _headers: seen.append(status)))
    return seen[0], body


class ApplicationTest(unittest.TestCase):
    def test_healthz_answers_ok(self) -> None:
        self.assertEqual(call("/healthz"), ("200 OK", b"ok\n"))

    def test_root_greets_in_json(self) -> None:
        status, body = call("/")
        self.assertEqual(status, "200 OK")
        self.assertEqual(json.loads(body)["message"], "hello from python-web")

    def test_unknown_path_is_404(self) -> None:
        self.assertEqual(call("/nope")[0], "404 Not Found")


if __name__ == "__main__":
    unittest.main()

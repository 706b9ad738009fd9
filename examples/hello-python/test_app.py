"""Unit tests of the example application, run by its pipeline."""

import unittest

from app import greet


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self) -> None:
        self.assertEqual(greet("Adora"), "Hello, Adora!")


if __name__ == "__main__":
    unittest.main()

"""Entry point for ``python -m shera`` (same as the ``shera`` console script)."""

from shera.cli.main import main

main()

"""The ``shera`` command line (typer); one module per command family."""

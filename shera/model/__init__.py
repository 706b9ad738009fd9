"""Pure data shared by every layer: statuses, problems, events and the compiled Plan (no I/O)."""

"""Runtime layer: drives a compiled Plan through an executor (workflows, stages, masking, reporting)."""

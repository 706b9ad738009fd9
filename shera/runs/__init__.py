"""Application services, one verb per module: create, start, cancel, restart, approve, execute."""

"""API layer: the route families of REST API v1, one module per family."""

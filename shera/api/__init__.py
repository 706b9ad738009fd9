"""The REST API (FastAPI): routes are thin; they call the same services (``runs``) the webhook path uses."""

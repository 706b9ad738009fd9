"""Git adapters (GitPython): hardened bare mirrors and checkouts; later the deploy repository."""

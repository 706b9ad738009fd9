"""A minimal WSGI web application: ``app.wsgi:application``; run it with ``python3 -m app``."""

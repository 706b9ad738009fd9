"""Contrib layer: exposure — nginx/haproxy configs rendered from where instances run, applied safely.

``model`` (validated pure data) → ``render`` (config text + version) → ``apply`` (``Balancer`` protocol,
``Debouncer``) with the ``nginx`` and ``haproxy`` process adapters.
"""

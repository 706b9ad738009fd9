"""Deploy adapter for Kubernetes: pure renderers, the API client boundary, and the ``kubernetes`` target.

- ``render``  — pure functions DeploySpec → manifest dicts (no I/O, no client import).
- ``status``  — pure interpretation of a live Deployment and its Pods (rollout state, endpoints).
- ``apply``   — the only module importing the ``kubernetes`` client; server-side apply, reads, patches,
  deletes; translates client errors into ``shera.errors``.
- ``target``  — ``KubernetesTarget``, the ``DeployTarget`` registered as ``kubernetes``.
"""

"""Deploy adapters: roll services out and back on podman and Kubernetes; releases and their history."""

"""She-Ra: a GitOps-driven CI/CD engine. The package root; it re-exports nothing so imports stay explicit."""

__version__ = "0.1.0"

"""Forge adapters: verify and normalize webhooks, report commit statuses (GitHub, GitLab, Gitea, Gogs)."""

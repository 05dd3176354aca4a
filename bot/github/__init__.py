"""GitHub: reading pull requests and publishing reviews (PyGithub)."""

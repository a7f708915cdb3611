"""Policy Watcher: learn within the hour that AWS changed one of its managed IAM policies."""

__version__ = "0.1.0"

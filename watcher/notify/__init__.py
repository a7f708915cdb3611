"""Notification channels. Each module splits ``render`` (pure, tested on its exact output) from ``send``."""

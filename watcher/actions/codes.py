"""The packed byte of an action in the index: access level code in the low 3 bits, risk flag mask above."""

from __future__ import annotations

from enum import IntFlag

LEVELS = ("List", "Read", "Tagging", "Write", "Permissions management")
"""Access levels from the least to the most risky: the level code of an action is its position here."""


class Flag(IntFlag):
    """Risk flags from policy_sentry's audit lists; a higher bit is riskier (riskiest() sorts by the mask)."""

    RESOURCE_EXPOSURE = 1
    CREDENTIALS_EXPOSURE = 2
    PRIVILEGE_ESCALATION = 4


FLAG_NAMES: dict[Flag, str] = {
    Flag.PRIVILEGE_ESCALATION: "privilege_escalation",
    Flag.CREDENTIALS_EXPOSURE: "credentials_exposure",
    Flag.RESOURCE_EXPOSURE: "resource_exposure",
}
"""Flag names, riskiest first: the order in which ``ActionInfo.flags`` lists them."""

LEVEL_BITS = 3
LEVEL_MASK = (1 << LEVEL_BITS) - 1

"""The SQL views documented in the README, shared by the migrations that (re)create them.

A view that changes gets a new constant here and a new migration; these texts never change.
"""

ACTION_CHANGES = """
CREATE VIEW action_changes AS
SELECT e.detected_at AS detected_at,
       s.service AS service,
       s.name AS source,
       e.policy AS policy,
       ea.action AS action,
       ea.effect AS effect,
       CASE WHEN e.kind IN ('actions_added', 'policy_added') THEN 'added'
            WHEN e.kind IN ('actions_removed', 'policy_removed') THEN 'removed'
            ELSE e.kind END AS change,
       e.kind AS event_kind,
       e.id AS event_id
FROM event_actions ea
JOIN events e ON e.id = ea.event_id
JOIN sources s ON s.id = e.source_id
"""

POLICY_TIMELINE = """
CREATE VIEW policy_timeline AS
SELECT s.name AS source,
       s.service AS service,
       p.name AS policy,
       pv.valid_from AS valid_from,
       pv.valid_to AS valid_to,
       pv.status AS status,
       pv.action_count AS action_count,
       pv.doc_hash AS doc_hash,
       s.url AS url,
       pv.anchor AS anchor,
       pv.id AS version_id
FROM policy_versions pv
JOIN policies p ON p.id = pv.policy_id
JOIN sources s ON s.id = p.source_id
"""

ACTION_CHANGES_V2 = ACTION_CHANGES.replace("e.id AS event_id\n", "e.id AS event_id,\n       e.severity AS severity\n")
"""Since 0006: ``action_changes`` with the event's severity (null for events stored before 0006)."""

-- The audit log for `harmmap audit`, oldest first: from a time, for one user, the latest N (each NULL
-- for no limit). The columns are harmmap.accounts.AUDIT_COLUMNS, in that order.
SELECT *
FROM (SELECT event_id, at, principal, principal_kind, role, key_id, method, route, path, status, ward, borough,
             period, remote_addr, user_agent
      FROM audit.event
      WHERE (%(since)s::timestamptz IS NULL OR at >= %(since)s)
        AND (%(user)s::text IS NULL OR principal = %(user)s)
      ORDER BY event_id DESC
      LIMIT %(limit)s) e
ORDER BY event_id

-- One audit row (after every request, and for each administration command). The same text every time,
-- so psycopg keeps it prepared on each pooled connection.
INSERT INTO audit.event (principal, principal_kind, role, key_id, method, route, path, status, ward, borough,
                         period, remote_addr, user_agent)
VALUES (%(principal)s, %(principal_kind)s, %(role)s, %(key_id)s, %(method)s, %(route)s, %(path)s, %(status)s,
        %(ward)s, %(borough)s, %(period)s, %(remote_addr)s, %(user_agent)s)

-- A new API key: only its secret's SHA-256 is stored. No row back when the id is taken.
INSERT INTO auth.api_key (key_id, user_id, role, secret_sha256, expires_at, note)
VALUES (%(key_id)s, %(user_id)s, %(role)s, %(secret_sha256)s, now() + make_interval(days => %(days)s), %(note)s)
ON CONFLICT (key_id) DO NOTHING
RETURNING key_id

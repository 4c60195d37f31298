-- A browser session: only the token's SHA-256 is stored; it ends on the server after the given seconds.
INSERT INTO auth.session (token_sha256, user_id, expires_at, remote_addr)
VALUES (%(token_sha256)s, %(user_id)s, now() + make_interval(secs => %(seconds)s), %(remote_addr)s)

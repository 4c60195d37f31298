-- A usable key (run on every request that sends one): known, not revoked, not expired, owner enabled.
-- The caller compares the secret's hash; stale says last_used_at is due to be written again.
SELECT k.key_id, k.role, k.secret_sha256, u.user_id, u.name,
       k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' AS stale
FROM auth.api_key k JOIN auth."user" u USING (user_id)
WHERE k.key_id = %(key_id)s AND k.revoked_at IS NULL AND k.expires_at > now() AND NOT u.disabled

-- API keys as harmmap.accounts.ApiKey (never their secrets), oldest first: one by id, or all of them,
-- or one user's (key_id, user NULL for any).
SELECT k.key_id, u.name AS user, k.role, k.created_at, k.expires_at, k.revoked_at, k.last_used_at, k.note
FROM auth.api_key k JOIN auth."user" u USING (user_id)
WHERE (%(key_id)s::text IS NULL OR k.key_id = %(key_id)s)
  AND (%(user)s::text IS NULL OR u.name = %(user)s)
ORDER BY k.created_at

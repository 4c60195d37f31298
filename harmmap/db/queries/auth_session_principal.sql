-- The user of a live session as they are now (run on every signed-in request): nothing once it is
-- signed out, expired or the user disabled, and their current role, not the one at sign-in.
SELECT u.user_id, u.name, u.role
FROM auth.session s JOIN auth."user" u USING (user_id)
WHERE s.token_sha256 = %(token_sha256)s AND s.ended_at IS NULL AND s.expires_at > now()
  AND NOT u.disabled

-- Users as harmmap.accounts.User: one by name, or all of them (name NULL) in name order. The one place
-- the columns are listed, so `users list` and every command that shows a user agree.
SELECT user_id, name, role, disabled, password_hash IS NOT NULL AS has_password, created_at, last_login_at
FROM auth."user"
WHERE %(name)s::text IS NULL OR name = %(name)s
ORDER BY name

-- What a sign-in is checked against: the stored password hash (NULL for a key-only account) and whether
-- the user is disabled.
SELECT user_id, name, role, password_hash, disabled
FROM auth."user"
WHERE name = %(name)s

-- A new user; no row back when the name is taken (the caller says so, without an error that would end
-- the transaction).
INSERT INTO auth."user" (name, role, password_hash)
VALUES (%(name)s, %(role)s, %(password_hash)s)
ON CONFLICT (name) DO NOTHING
RETURNING user_id

-- The record of applied migrations, made by the first `harmmap db migrate` (and checked by every later
-- one): a changed file is refused by its checksum.
CREATE TABLE IF NOT EXISTS public.schema_migration (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- The bulk record tables compare source_id byte by byte (COLLATE "C").
--
-- Every loaded record is one insertion into the unique index on source_id, and with the database's
-- libc locale each comparison there copies both values and calls strcoll. Byte order is cheaper
-- (measured on the 1,000,000-row closures load: see bench/RESULTS.md). Nothing else changes:
-- uniqueness is still enforced, and two ids are equal under either collation exactly when their
-- bytes are. Only ORDER BY source_id follows byte order instead of the locale's; source ids are
-- opaque references, so no reader depends on that.
ALTER TABLE etl.closure ALTER COLUMN source_id TYPE text COLLATE "C";
ALTER TABLE etl.asset_seizure ALTER COLUMN source_id TYPE text COLLATE "C";

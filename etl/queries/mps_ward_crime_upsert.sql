-- Replace exactly the (ward, month, category) cells this file loaded. A row that was quarantined
-- keeps the values an earlier file published for it: one bad cell must not erase good months.
INSERT INTO etl.recorded_crime SELECT * FROM crime_stage
ON CONFLICT (ward_code, month, major, minor) DO UPDATE
SET offences = EXCLUDED.offences, batch_id = EXCLUDED.batch_id

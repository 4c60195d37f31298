-- Append-only kinds: a batch's counts are added to the published rows (a record is never replaced).
INSERT INTO harm.indicator_month AS m SELECT * FROM add_stage
ON CONFLICT (indicator, month, borough_code, ward_code) DO UPDATE
SET value = m.value + EXCLUDED.value, synthetic = m.synthetic OR EXCLUDED.synthetic

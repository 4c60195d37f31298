-- A later file replaces the results it repeats (same period, geography and measure).
INSERT INTO etl.pas_result SELECT * FROM pas_stage
ON CONFLICT (period_type, period_end, geography_level, geography_code, measure) DO UPDATE
SET respondents = EXCLUDED.respondents, agree_count = EXCLUDED.agree_count,
    borough_code = EXCLUDED.borough_code, synthetic = EXCLUDED.synthetic,
    batch_id = EXCLUDED.batch_id

CREATE TEMP TABLE pas_stage (LIKE etl.pas_result) ON COMMIT DROP

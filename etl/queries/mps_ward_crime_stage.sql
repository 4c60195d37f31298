CREATE TEMP TABLE crime_stage (LIKE etl.recorded_crime) ON COMMIT DROP

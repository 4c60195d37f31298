CREATE TEMP TABLE simple_stage (vintage smallint, ward_code text, tolerance_m smallint, wkb bytea) ON COMMIT DROP

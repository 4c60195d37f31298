CREATE TEMP TABLE add_stage (LIKE harm.indicator_month) ON COMMIT DROP

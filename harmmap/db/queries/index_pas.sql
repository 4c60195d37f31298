-- PAS results as loaded: ward quarters and borough rolling 12 months, counts not percentages.
SELECT period_type, period_end, geography_level, geography_code, borough_code, measure,
       respondents, agree_count, synthetic
FROM etl.pas_result

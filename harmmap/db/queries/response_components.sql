-- Each counted police activity indicator's count per ward in one period: the parts that harm.response.activity
-- adds up (harm.period.activity names them), for disclosure control of that total.
SELECT ward_code, indicator, value
FROM harm.current_ward_indicator
WHERE version = %(version)s AND period = %(period)s AND indicator = ANY(%(indicators)s)

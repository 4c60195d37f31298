-- Which (indicator, month, borough, ward) rows are published already, in the range a batch touches.
SELECT indicator, month, borough_code, ward_code FROM harm.indicator_month
WHERE indicator = ANY(%(indicators)s) AND month BETWEEN %(first)s AND %(last)s

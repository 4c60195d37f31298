DELETE FROM harm.indicator_month WHERE indicator = ANY(%(indicators)s)

-- Which police activity indicators a period's response figures count (those with data for every month of it).
SELECT activity FROM harm.current_period WHERE version = %(version)s AND period = %(period)s

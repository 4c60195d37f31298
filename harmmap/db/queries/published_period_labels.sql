-- Every period of the current index (to say what is published when a period is not).
SELECT period FROM harm.current_period ORDER BY kind, first_month

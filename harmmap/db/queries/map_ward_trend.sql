-- One ward month by month over every published month: its index score and each indicator's figure
-- (count, or pounds for asset_seizure_value_gbp). PAS is quarterly, so it has no monthly figure.
SELECT to_char(p.first_month, 'YYYY-MM') AS month, i.score,
       (SELECT jsonb_object_agg(wi.indicator, wi.value) FROM harm.current_ward_indicator wi
        WHERE wi.version = %(version)s AND wi.period = p.period AND wi.ward_code = %(ward)s) AS figures
FROM harm.current_period p
LEFT JOIN harm.current_ward_index i
       ON i.version = %(version)s AND i.period = p.period AND i.ward_code = %(ward)s
WHERE p.version = %(version)s AND p.kind = 'month'
ORDER BY p.first_month

-- Every indicator of one ward in one period, with the ward's London rank on it: 1 = the highest rate per
-- 1,000 (counts, pounds) or empirical-Bayes percentage (PAS) among the wards with a figure (the period's
-- ranked wards: City of London wards have none); ties share the best rank. The rank is taken over the
-- narrow figure only, then joined to the ward's full row.
WITH figure AS (
    SELECT wi.ward_code, wi.indicator, coalesce(wi.rate_per_1000, wi.eb_pct) AS x
    FROM harm.current_ward_indicator wi
    WHERE wi.version = %(version)s AND wi.period = %(period)s
), ranked AS MATERIALIZED (   -- once, not once per indicator row (the planner has no statistics to tell)
    SELECT ward_code, indicator,
           CASE WHEN x IS NOT NULL THEN rank() OVER (PARTITION BY indicator ORDER BY x DESC NULLS LAST) END
               AS rank_london,
           count(x) OVER (PARTITION BY indicator) AS n_london
    FROM figure
)
SELECT wi.indicator, wi.synthetic, wi.value, wi.rate_per_1000, r.rank_london, r.n_london, wi.respondents,
       wi.pct, wi.pct_lo, wi.pct_hi, wi.eb_pct, wi.eb_lo, wi.eb_hi, wi.scored, wi.contribution,
       wi.prev_value, wi.prev_change, wi.prev_p, wi.prev_trend, wi.yoy_value, wi.yoy_change, wi.yoy_p, wi.yoy_trend
FROM harm.current_ward_indicator wi
JOIN ranked r ON r.ward_code = wi.ward_code AND r.indicator = wi.indicator
WHERE wi.version = %(version)s AND wi.period = %(period)s AND wi.ward_code = %(ward)s

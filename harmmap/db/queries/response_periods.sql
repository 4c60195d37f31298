-- The periods of the current index with police activity against need (harm.response): the need x response
-- layer's periods. One London row per period says so.
SELECT period
FROM harm.current_response
WHERE version = %(version)s AND level = 'london'

-- A London borough named by its E09 code or its name, in any case.
SELECT borough_code, borough_name
FROM geo.borough
WHERE borough_code = upper(%(t)s) OR lower(borough_name) = lower(%(t)s)

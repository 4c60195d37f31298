-- Drug searches per month, borough (NULL: no location, counted at force level) and self-defined ethnic group,
-- with how many had the outcome link recorded and how many were linked to the object: what the publish turns
-- into the find rate and the groups (harmmap/harm.py, "Stop and search").
SELECT month, borough_code, ethnic_group, count(*)::integer AS searches,
       count(outcome_linked)::integer AS recorded, (count(*) FILTER (WHERE outcome_linked))::integer AS found,
       bool_or(synthetic) AS synthetic
FROM etl.stop_search
WHERE drugs
GROUP BY month, borough_code, ethnic_group
ORDER BY month, borough_code, ethnic_group

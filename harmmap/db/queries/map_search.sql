-- 2022 wards by name or GSS code for the map's search box: exact matches, then names (or codes) that
-- start with the text, then names with a word starting with it, then names containing it.
-- prefix, word and contains are LIKE patterns built from the text with its wildcards escaped.
SELECT ward_code, ward_name, borough_code, borough_name, city_of_london
FROM geo.ward
WHERE vintage = 2022
  AND (upper(ward_code) LIKE upper(%(prefix)s) OR ward_name ILIKE %(contains)s)
ORDER BY CASE WHEN upper(ward_code) = upper(%(text)s) OR lower(ward_name) = lower(%(text)s) THEN 0
              WHEN upper(ward_code) LIKE upper(%(prefix)s) OR ward_name ILIKE %(prefix)s THEN 1
              WHEN ward_name ILIKE %(word)s THEN 2
              ELSE 3 END,
         CASE WHEN upper(ward_code) LIKE upper(%(prefix)s) THEN ward_code END,   -- codes in code order
         ward_name, ward_code
LIMIT 10

-- What reference data is published: the batch that loaded it and each vintage's provenance.
SELECT b.batch_id, b.file_sha256, b.finished_at AT TIME ZONE 'UTC' AS finished_utc,
       (SELECT json_agg(json_build_object('vintage', v.vintage, 'label', v.label, 'approximate', v.approximate,
                                          'boundary_note', v.boundary_note, 'ward_count', v.ward_count,
                                          'population_method', v.population_method) ORDER BY v.vintage)
        FROM geo.ward_vintage v) AS vintages
FROM etl.batch b
WHERE b.job = 'geo' AND b.status = 'published'
ORDER BY b.batch_id DESC
LIMIT 1

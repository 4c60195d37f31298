-- Wards of one vintage as a GeoJSON FeatureCollection (EPSG:4326, 5 decimals ~ 1 m), built in
-- PostGIS from the coverage-simplified copies; the vintage's provenance rides along as foreign members.
SELECT json_build_object(
    'type', 'FeatureCollection',
    'vintage', v.vintage,
    'label', v.label,
    'approximate', v.approximate,
    'boundary_note', v.boundary_note,
    'population_method', v.population_method,
    'tolerance_m', %(tolerance)s::int,
    'features', coalesce((
        SELECT json_agg(json_build_object(
            'type', 'Feature',
            'id', w.ward_code,
            'geometry', ST_AsGeoJSON(s.geom, 5)::json,
            'properties', json_build_object(
                'ward_code', w.ward_code,
                'ward_name', w.ward_name,
                'borough_code', w.borough_code,
                'borough_name', w.borough_name,
                'population', w.population,
                'area_ha', round(w.area_ha::numeric, 1),
                'density_per_km2', CASE WHEN w.population > 0
                                        THEN round((w.population / (w.area_ha / 100))::numeric) END,
                'city_of_london', w.city_of_london)
        ) ORDER BY w.ward_code)
        FROM geo.ward w
        JOIN geo.ward_simplified s USING (vintage, ward_code)
        WHERE w.vintage = v.vintage
          AND s.tolerance_m = %(tolerance)s
          AND (%(borough)s::text IS NULL OR w.borough_code = %(borough)s)
    ), '[]'::json)
)::text AS body
FROM geo.ward_vintage v
WHERE v.vintage = %(vintage)s

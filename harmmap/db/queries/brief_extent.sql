-- The bounding box (EPSG:27700 metres) of one 2022 ward, or of every 2022 ward of one borough: what a
-- briefing map is centred and scaled on. One row; all NULL when the code matches nothing.
SELECT ST_XMin(e) AS xmin, ST_YMin(e) AS ymin, ST_XMax(e) AS xmax, ST_YMax(e) AS ymax
FROM (SELECT ST_Extent(geom)::geometry AS e
      FROM geo.ward
      WHERE vintage = 2022 AND (ward_code = %(ward)s OR borough_code = %(borough)s)) AS x

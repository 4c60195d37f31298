-- The vector tiles find the simplified ward copies that meet a tile (`geom && tile`): a spatial index for
-- that. Without it, once the tables have statistics, the planner walks all 704 wards of a vintage and
-- looks up each copy by key (measured: a z12 tile took 9 ms in PostgreSQL, see bench/RESULTS.md).
CREATE INDEX ward_simplified_geom_gist ON geo.ward_simplified USING gist (geom);

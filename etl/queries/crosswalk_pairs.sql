-- Which vintage pairs the crosswalk holds directly.
SELECT DISTINCT from_vintage, to_vintage FROM geo.crosswalk

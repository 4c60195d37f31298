SELECT count(*) AS n, coalesce(sum(population), 0) AS pop FROM geo.ward WHERE vintage = %(vintage)s

UPDATE geo.ward_vintage SET source_sha256 = %(sha)s WHERE vintage = %(vintage)s

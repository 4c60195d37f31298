UPDATE geo.ward_vintage SET ward_count = %(n)s WHERE vintage = %(vintage)s

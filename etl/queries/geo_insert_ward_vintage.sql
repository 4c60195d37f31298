INSERT INTO geo.ward_vintage (vintage, label, source_file, source_sha256, approximate,
    boundary_note, population_method, ward_count, batch_id)
VALUES (%(vintage)s, %(label)s, %(file)s, '', %(approximate)s, %(boundary_note)s, %(method)s, 0, %(batch_id)s)

UPDATE etl.batch SET status = 'published', finished_at = clock_timestamp(),
    rows_read = %(read)s, rows_loaded = %(loaded)s, rows_quarantined = %(quarantined)s,
    synthetic = %(synthetic)s, notes = %(notes)s
WHERE batch_id = %(batch_id)s

UPDATE etl.batch SET status = 'published', finished_at = clock_timestamp(),
    rows_read = %(read)s, rows_loaded = %(read)s, rows_quarantined = 0, notes = %(notes)s
WHERE batch_id = %(batch_id)s

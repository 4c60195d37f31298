UPDATE etl.batch SET status = 'failed', finished_at = clock_timestamp(), error = %(error)s
WHERE batch_id = %(batch_id)s

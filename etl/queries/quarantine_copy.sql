COPY etl.quarantine (batch_id, row_number, raw, reason) FROM STDIN

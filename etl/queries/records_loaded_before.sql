-- The batch that loaded each of these source ids, in a record table of etl.* (an identifier).
SELECT source_id, batch_id FROM {table} WHERE source_id = ANY(%(ids)s)

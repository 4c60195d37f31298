-- One run of a kind at a time: a second waits here, then sees the first's result.
SELECT pg_advisory_xact_lock(hashtext('harmmap-etl'), hashtext(%(job)s))

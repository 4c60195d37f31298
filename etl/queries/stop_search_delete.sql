-- A police.uk file restates the months it holds: the searches an earlier file loaded for them go.
DELETE FROM etl.stop_search WHERE month = ANY(%(months)s::date[])

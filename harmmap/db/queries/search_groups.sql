-- Drug searches by self-defined ethnic group for one area (a borough or London) in one period.
SELECT ethnic_group, searches
FROM harm.current_search_group
WHERE version = %(version)s AND period = %(period)s AND level = %(level)s AND area_code = %(code)s

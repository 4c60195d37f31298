-- Stop and search in police.uk's own monthly format (docs/data-contracts.md, "stop_search"): every search a
-- file holds, placed in a 2022 ward or, with no location, counted at force level; the drug searches become
-- the response indicator drug_searches (harm.indicator_month), and the publish adds the find rate and the
-- searches by self-defined ethnic group per borough and London (harm.search_outcome, harm.search_group).

-- One row per search. Never served: only aggregates leave the database, never a point.
CREATE TABLE etl.stop_search (
    batch_id          bigint   NOT NULL,
    line              integer  NOT NULL,          -- the row's line in its file (header = line 1)
    month             date     NOT NULL CHECK (extract(day FROM month) = 1),
    searched_on       date     NOT NULL,          -- the date in London (police.uk gives UTC date-times)
    search_type       text     NOT NULL CHECK (search_type IN ('Person search', 'Person and Vehicle search',
                                                                'Vehicle search')),
    operation         boolean,                    -- "Part of a policing operation"; NULL where blank
    operation_name    text,
    gender            text,
    age_range         text,
    self_defined_ethnicity     text,
    ethnic_group      text     NOT NULL CHECK (ethnic_group IN ('asian', 'black', 'mixed', 'white', 'other',
                                                                'not_stated')),
    officer_defined_ethnicity  text,
    legislation       text,
    object_of_search  text,
    drugs             boolean  NOT NULL,          -- object of search is "Controlled drugs"
    outcome           text,
    outcome_linked    boolean,                    -- "Outcome linked to object of search"; NULL: not recorded
    removal_more_than_outer  boolean,
    borough_code      text,                       -- NULL: no location given (counted at force level)
    ward_code         text,                       -- 2022 ward; NULL with borough_code NULL
    location_method   text     NOT NULL CHECK (location_method IN ('point', 'force')),
    x                 double precision,           -- EPSG:27700 metres, NULL without a location
    y                 double precision,
    synthetic         boolean  NOT NULL,
    PRIMARY KEY (batch_id, line),
    CHECK ((location_method = 'point') = (ward_code IS NOT NULL AND x IS NOT NULL))
);
CREATE INDEX stop_search_month_idx ON etl.stop_search (month);

-- The find rate of drug searches: "Outcome linked to object of search" = True, out of the drug searches for
-- which police.uk records it (a Wilson 95% interval); per borough and London (London includes the searches
-- with no location). Periods are those the loaded months cover, whether or not the index has them.
CREATE TABLE harm.search_outcome (
    version        bigint  NOT NULL REFERENCES harm.publish ON DELETE CASCADE,
    period         text    NOT NULL,
    level          text    NOT NULL CHECK (level IN ('borough', 'london')),
    area_code      text    NOT NULL,            -- borough code, or 'london'
    searches       integer NOT NULL,            -- drug searches
    unlocated      integer NOT NULL,            -- of which with no location (London only; 0 for a borough)
    recorded       integer NOT NULL,            -- of which with the outcome link recorded (True or False)
    found          integer NOT NULL,            -- of which the outcome was linked to the object (True)
    find_pct       double precision,            -- 100 * found / recorded; NULL where nothing was recorded
    find_lo        double precision,            -- Wilson 95% interval, percent
    find_hi        double precision,
    synthetic      boolean NOT NULL,
    PRIMARY KEY (version, period, level, area_code)
);

-- Drug searches by self-defined ethnic group (the Census 2021 high-level groups, and not stated).
CREATE TABLE harm.search_group (
    version        bigint  NOT NULL REFERENCES harm.publish ON DELETE CASCADE,
    period         text    NOT NULL,
    level          text    NOT NULL CHECK (level IN ('borough', 'london')),
    area_code      text    NOT NULL,
    ethnic_group   text    NOT NULL,
    searches       integer NOT NULL,
    synthetic      boolean NOT NULL,
    PRIMARY KEY (version, period, level, area_code, ethnic_group)
);

CREATE VIEW harm.current_search_outcome AS
    SELECT s.* FROM harm.search_outcome s JOIN harm.current c USING (version);
CREATE VIEW harm.current_search_group AS
    SELECT s.* FROM harm.search_group s JOIN harm.current c USING (version);

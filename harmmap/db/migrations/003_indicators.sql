-- Indicator records (etl.*: loaded rows, never served directly) and the published monthly
-- aggregates (harm.*: what the web app reads). Ward codes here are always the 2022 vintage.
-- Record tables carry the batch_id that loaded them without a FOREIGN KEY: the job writes it, and
-- per-row FK triggers would dominate bulk loads (7.5 s of 9 s for the 466k-cell MPS file).

-- Every row of the MPS "Ward Level Crime" file (all categories), ward x month.
CREATE TABLE etl.recorded_crime (
    ward_code   text    NOT NULL,
    month       date    NOT NULL CHECK (extract(day FROM month) = 1),
    major       text    NOT NULL,
    minor       text    NOT NULL,
    offences    integer NOT NULL CHECK (offences >= 0),
    batch_id    bigint  NOT NULL,
    PRIMARY KEY (ward_code, month, major, minor)
);

-- MPS drug offences per LSOA 2011 and calendar year, carried to 2022 wards (fractional counts).
CREATE TABLE etl.drug_offence_annual (
    ward_code   text     NOT NULL,
    year        smallint NOT NULL,
    offences    double precision NOT NULL CHECK (offences >= 0),
    batch_id    bigint   NOT NULL,
    PRIMARY KEY (ward_code, year)
);

-- How a record was placed: by its ward code, by a point, or only at borough level.
CREATE DOMAIN etl.location_method AS text CHECK (VALUE IN ('ward_code', 'point', 'borough'));

CREATE TABLE etl.closure (
    source_id        text PRIMARY KEY,
    closure_type     text NOT NULL CHECK (closure_type IN ('crack_house', 'cannabis_factory')),
    stage            text NOT NULL CHECK (stage IN ('closure_notice', 'closure_order', 'other')),
    event_date       date NOT NULL,
    borough_code     text NOT NULL,
    ward_code        text,            -- NULL: known only at borough level
    location_method  etl.location_method NOT NULL,
    x                double precision,   -- EPSG:27700 metres, NULL when not located by a point
    y                double precision,
    geom             geometry(Point, 27700) GENERATED ALWAYS AS
                     (CASE WHEN x IS NOT NULL THEN ST_SetSRID(ST_MakePoint(x, y), 27700) END) STORED,
    synthetic        boolean NOT NULL,
    batch_id         bigint NOT NULL
);

CREATE TABLE etl.disruption (
    source_id    text PRIMARY KEY,
    event_date   date NOT NULL,
    network_ref  text NOT NULL,
    level        text NOT NULL CHECK (level IN ('local', 'cross_borough', 'county_lines', 'international')),
    grading      text NOT NULL CHECK (grading IN ('major', 'moderate', 'minor')),
    synthetic    boolean NOT NULL,
    batch_id     bigint NOT NULL
);

CREATE TABLE etl.disruption_location (
    source_id        text     NOT NULL REFERENCES etl.disruption ON DELETE CASCADE,
    seq              smallint NOT NULL,
    borough_code     text     NOT NULL,
    ward_code        text,
    location_method  etl.location_method NOT NULL,
    x                double precision,   -- EPSG:27700 metres, NULL when not located by a point
    y                double precision,
    geom             geometry(Point, 27700) GENERATED ALWAYS AS
                     (CASE WHEN x IS NOT NULL THEN ST_SetSRID(ST_MakePoint(x, y), 27700) END) STORED,
    PRIMARY KEY (source_id, seq)
);

CREATE TABLE etl.pas_result (
    period_type      text    NOT NULL CHECK (period_type IN ('quarter', 'r12')),
    period_end       date    NOT NULL CHECK (extract(day FROM period_end) = 1),  -- first day of the last month
    geography_level  text    NOT NULL CHECK (geography_level IN ('ward', 'borough')),
    geography_code   text    NOT NULL,    -- 2022 ward code or borough code
    borough_code     text    NOT NULL,
    measure          text    NOT NULL CHECK (measure IN ('drug_problem', 'tackle_dealing')),
    respondents      integer NOT NULL CHECK (respondents > 0),
    agree_count      integer NOT NULL CHECK (agree_count >= 0 AND agree_count <= respondents),
    synthetic        boolean NOT NULL,
    batch_id         bigint  NOT NULL,
    PRIMARY KEY (period_type, period_end, geography_level, geography_code, measure)
);

CREATE TABLE etl.asset_seizure (
    source_id        text PRIMARY KEY,
    event_date       date NOT NULL,
    seizure_count    integer NOT NULL CHECK (seizure_count >= 1),
    value_gbp        numeric(14, 2) NOT NULL CHECK (value_gbp >= 0),
    borough_code     text NOT NULL,
    ward_code        text,
    location_method  etl.location_method NOT NULL,
    x                double precision,   -- EPSG:27700 metres, NULL when not located by a point
    y                double precision,
    geom             geometry(Point, 27700) GENERATED ALWAYS AS
                     (CASE WHEN x IS NOT NULL THEN ST_SetSRID(ST_MakePoint(x, y), 27700) END) STORED,
    synthetic        boolean NOT NULL,
    batch_id         bigint NOT NULL
);

-- Published: each indicator per ward (or borough-only records, ward_code NULL) and month.
-- Rebuilt for the indicators a job touches, in the job's publish transaction.
CREATE TABLE harm.indicator_month (
    indicator     text    NOT NULL,
    month         date    NOT NULL CHECK (extract(day FROM month) = 1),
    borough_code  text    NOT NULL,
    ward_code     text,
    value         double precision NOT NULL,
    synthetic     boolean NOT NULL,
    UNIQUE NULLS NOT DISTINCT (indicator, month, borough_code, ward_code)
);
CREATE INDEX indicator_month_ward_idx ON harm.indicator_month (ward_code, indicator, month);

-- Published: annual series (the MPS LSOA drug offences 2011-2021, carried to 2022 wards).
CREATE TABLE harm.indicator_year (
    indicator     text     NOT NULL,
    year          smallint NOT NULL,
    borough_code  text     NOT NULL,
    ward_code     text,
    value         double precision NOT NULL,
    synthetic     boolean  NOT NULL,
    UNIQUE NULLS NOT DISTINCT (indicator, year, borough_code, ward_code)
);

-- A batch that found nothing new points at the batch that loaded the same file.
ALTER TABLE etl.batch ADD COLUMN same_as bigint REFERENCES etl.batch;
ALTER TABLE etl.batch ADD COLUMN error text;

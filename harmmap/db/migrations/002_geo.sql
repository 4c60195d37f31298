-- Reference geography, all in EPSG:27700 (British National Grid, metres).

-- A ward vintage: which file it came from and whether its shapes are approximate.
-- Swapping the boundary file is a data change (geodata/manifest.toml), never a code change.
CREATE TABLE geo.ward_vintage (
    vintage            smallint PRIMARY KEY,
    label              text     NOT NULL,
    source_file        text     NOT NULL,
    source_sha256      text     NOT NULL,
    approximate        boolean  NOT NULL,
    boundary_note      text     NOT NULL,
    population_method  text     NOT NULL,
    ward_count         integer  NOT NULL,
    batch_id           bigint   NOT NULL REFERENCES etl.batch
);

CREATE TABLE geo.ward (
    vintage         smallint NOT NULL REFERENCES geo.ward_vintage ON DELETE CASCADE,
    ward_code       text     NOT NULL CHECK (ward_code ~ '^E05[0-9]{6}$'),
    ward_name       text     NOT NULL,
    borough_code    text     NOT NULL CHECK (borough_code ~ '^E09[0-9]{6}$'),
    borough_name    text     NOT NULL,
    -- The City of London has its own police force: its wards are kept, flagged and shown as such.
    city_of_london  boolean  GENERATED ALWAYS AS (borough_code = 'E09000001') STORED,
    area_ha         double precision NOT NULL CHECK (area_ha > 0),
    -- Census 2021 usual residents (see geo.ward_vintage.population_method). 0 where no LSOA is assigned
    -- to the ward (20 of the 25 City of London wards under the ONS best-fit lookup).
    population      integer  NOT NULL DEFAULT 0 CHECK (population >= 0),
    geom            geometry(MultiPolygon, 27700) NOT NULL CHECK (ST_IsValid(geom)),
    PRIMARY KEY (vintage, ward_code)
);
CREATE INDEX ward_geom_gist ON geo.ward USING gist (geom);
CREATE INDEX ward_borough_idx ON geo.ward (vintage, borough_code);

-- Coverage-simplified copies for maps (no gaps or overlaps between neighbours), in EPSG:4326.
CREATE TABLE geo.ward_simplified (
    vintage      smallint NOT NULL,
    ward_code    text     NOT NULL,
    tolerance_m  smallint NOT NULL CHECK (tolerance_m > 0),
    geom         geometry(MultiPolygon, 4326) NOT NULL,
    PRIMARY KEY (vintage, tolerance_m, ward_code),
    FOREIGN KEY (vintage, ward_code) REFERENCES geo.ward ON DELETE CASCADE
);

CREATE TABLE geo.borough (
    borough_code    text PRIMARY KEY CHECK (borough_code ~ '^E09[0-9]{6}$'),
    borough_name    text NOT NULL UNIQUE,
    city_of_london  boolean GENERATED ALWAYS AS (borough_code = 'E09000001') STORED,
    area_ha         double precision NOT NULL CHECK (area_ha > 0),
    population      integer NOT NULL DEFAULT 0 CHECK (population >= 0),
    geom            geometry(MultiPolygon, 27700) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX borough_geom_gist ON geo.borough USING gist (geom);

-- ONS ward register (Dec 2025): the authority for 2022-vintage ward codes and names.
CREATE TABLE geo.ward_register (
    ward_code     text PRIMARY KEY CHECK (ward_code ~ '^E05[0-9]{6}$'),
    ward_name     text NOT NULL,
    borough_code  text NOT NULL,
    borough_name  text NOT NULL,
    point         geometry(Point, 27700) NOT NULL
);

-- LSOA 2021 with Census 2021 usual residents and its best-fit 2022 ward.
CREATE TABLE geo.lsoa21 (
    lsoa_code     text PRIMARY KEY CHECK (lsoa_code ~ '^E01[0-9]{6}$'),
    lsoa_name     text NOT NULL,
    borough_code  text NOT NULL,
    population    integer NOT NULL CHECK (population >= 0),
    ward_code_2022 text NOT NULL,
    geom          geometry(MultiPolygon, 27700) NOT NULL
);
CREATE INDEX lsoa21_geom_gist ON geo.lsoa21 USING gist (geom);

-- LSOA 2011 -> 2021 (ONS change indicator U/S/M; weight shares a 2011 count among 2021 LSOAs).
CREATE TABLE geo.lsoa11_lsoa21 (
    lsoa11_code  text NOT NULL,
    lsoa21_code  text NOT NULL REFERENCES geo.lsoa21,
    change       char(1) NOT NULL CHECK (change IN ('U', 'S', 'M', 'X')),
    weight       double precision NOT NULL CHECK (weight > 0 AND weight <= 1),
    PRIMARY KEY (lsoa11_code, lsoa21_code)
);

-- Vintage crosswalk: the share of a source ward's area / residents that lies in each target ward.
-- For each (from_vintage, to_vintage, from_code) both weight columns sum to 1.
CREATE TABLE geo.crosswalk (
    from_vintage       smallint NOT NULL,
    to_vintage         smallint NOT NULL,
    from_code          text     NOT NULL,
    to_code            text     NOT NULL,
    overlap_m2         double precision NOT NULL,
    area_weight        double precision NOT NULL CHECK (area_weight > 0 AND area_weight <= 1 + 1e-9),
    population_weight  double precision NOT NULL CHECK (population_weight >= 0 AND population_weight <= 1 + 1e-9),
    PRIMARY KEY (from_vintage, to_vintage, from_code, to_code),
    FOREIGN KEY (from_vintage, from_code) REFERENCES geo.ward ON DELETE CASCADE,
    FOREIGN KEY (to_vintage, to_code) REFERENCES geo.ward ON DELETE CASCADE
);

-- The published harm index: one row set per publish version. A publish writes a new version and moves
-- harm.current to it in ONE transaction, so readers see the old index or the new one, never half.
-- The version number is what the web app puts in its ETags. Everything here is aggregate: no record,
-- no premises, no address.

CREATE TABLE harm.publish (
    version        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    published_at   timestamptz NOT NULL DEFAULT now(),
    seconds        double precision,
    weights        jsonb   NOT NULL,     -- {"drug_trafficking": 0.3, ...} as configured
    indicators     jsonb   NOT NULL,     -- per indicator: first/last month, synthetic, weight
    parameters     jsonb   NOT NULL,     -- permutations, seed, FDR alphas, target baseline, ...
    synthetic      boolean NOT NULL,     -- any weighted indicator came from synthetic data
    periods        integer NOT NULL,
    wards          integer NOT NULL,
    notes          jsonb   NOT NULL DEFAULT '{}'::jsonb
);

-- Exactly one row: the version readers see.
CREATE TABLE harm.current (
    one      boolean PRIMARY KEY DEFAULT true CHECK (one),
    version  bigint NOT NULL REFERENCES harm.publish
);

CREATE TABLE harm.period (
    version      bigint  NOT NULL REFERENCES harm.publish ON DELETE CASCADE,
    period       text    NOT NULL,            -- label: 2025-03, 2025-Q1, FY2025/26, R12-2026-03
    kind         text    NOT NULL CHECK (kind IN ('month', 'quarter', 'fy', 'r12')),
    first_month  date    NOT NULL,
    last_month   date    NOT NULL,
    weights      jsonb   NOT NULL,            -- the weights used, renormalised over available indicators
    dropped      text[]  NOT NULL,            -- weighted indicators with no data for this period
    synthetic    boolean NOT NULL,            -- any indicator used is synthetic
    wards_ranked integer NOT NULL,
    islands      text[]  NOT NULL,            -- wards with no neighbour: no hotspot test
    PRIMARY KEY (version, period)
);

CREATE TABLE harm.ward_index (
    version         bigint  NOT NULL,
    period          text    NOT NULL,
    ward_code       text    NOT NULL,
    borough_code    text    NOT NULL,
    score           double precision,         -- 0-100; NULL: no residents and no survey (not ranked)
    coverage        double precision,         -- share of the period's weight this ward has data for
    rank_london     integer,                  -- 1 = worst; ties share the best rank
    decile_london   smallint,                 -- 1 = worst 10%
    rank_borough    integer,
    decile_borough  smallint,
    gi_z            double precision,
    gi_p            double precision,         -- permutation pseudo p-value
    hotspot         text    NOT NULL,         -- hot_99 .. cold_90, not_significant, island, no_data
    lisa_i          double precision,
    lisa_p          double precision,
    lisa_cluster    text    NOT NULL,         -- high_high, low_low, high_low, low_high, not_significant, ...
    synthetic       boolean NOT NULL,
    PRIMARY KEY (version, period, ward_code),
    FOREIGN KEY (version, period) REFERENCES harm.period ON DELETE CASCADE
);
CREATE INDEX ward_index_rank_idx ON harm.ward_index (version, period, rank_london);

-- Each indicator per ward and period: the figure, its uncertainty, its part in the score, its trend.
CREATE TABLE harm.ward_indicator (
    version        bigint  NOT NULL,
    period         text    NOT NULL,
    ward_code      text    NOT NULL,
    indicator      text    NOT NULL,
    value          double precision,          -- count, pounds, or agreeing respondents
    respondents    integer,                   -- PAS only
    rate_per_1000  double precision,          -- counts and pounds per 1,000 residents
    pct            double precision,          -- PAS: raw percentage agreeing
    pct_lo         double precision,          -- PAS: Wilson 95% interval
    pct_hi         double precision,
    eb_pct         double precision,          -- PAS: empirical-Bayes estimate shrunk towards the borough
    eb_lo          double precision,
    eb_hi          double precision,
    scored         double precision,          -- exponential-transformed score 0-100 (weighted indicators)
    contribution   double precision,          -- points of the ward's index from this indicator
    prev_value     double precision,          -- previous period (same kind)
    prev_change    double precision,          -- rate ratio - 1 for counts; percentage points for PAS
    prev_p         double precision,
    prev_trend     text,                      -- up, down, no_change, not_tested
    yoy_value      double precision,          -- same period a year before
    yoy_change     double precision,
    yoy_p          double precision,
    yoy_trend      text,
    synthetic      boolean NOT NULL,
    PRIMARY KEY (version, period, ward_code, indicator),
    FOREIGN KEY (version, period) REFERENCES harm.period ON DELETE CASCADE
);

-- The same at borough and London level (borough-only records count here, never in a ward).
CREATE TABLE harm.area_indicator (
    version        bigint  NOT NULL,
    period         text    NOT NULL,
    level          text    NOT NULL CHECK (level IN ('borough', 'london')),
    area_code      text    NOT NULL,          -- borough code, or 'london'
    indicator      text    NOT NULL,
    value          double precision,
    respondents    integer,
    rate_per_1000  double precision,
    pct            double precision,
    pct_lo         double precision,
    pct_hi         double precision,
    prev_value     double precision,
    prev_change    double precision,
    prev_p         double precision,
    prev_trend     text,
    yoy_value      double precision,
    yoy_change     double precision,
    yoy_p          double precision,
    yoy_trend      text,
    synthetic      boolean NOT NULL,
    PRIMARY KEY (version, period, level, area_code, indicator),
    FOREIGN KEY (version, period) REFERENCES harm.period ON DELETE CASCADE
);

-- The strategy's targets for London and each borough.
CREATE TABLE harm.target (
    version          bigint  NOT NULL REFERENCES harm.publish ON DELETE CASCADE,
    level            text    NOT NULL CHECK (level IN ('borough', 'london')),
    area_code        text    NOT NULL,
    target           text    NOT NULL,      -- pas_drug_problem, pas_tackle_dealing, networks_disrupted, asset_recovery_gbp
    baseline_period  text    NOT NULL,
    current_period   text    NOT NULL,
    baseline         double precision,
    target_value     double precision,
    expected         double precision,      -- where a straight line from baseline to target is now
    current          double precision,
    gap              double precision,      -- ahead (+) or behind (-) the trajectory
    gap_lo           double precision,
    gap_hi           double precision,
    prob_on_track    double precision,
    status           text    NOT NULL,      -- on_track, off_track, uncertain, no_data, no_baseline
    synthetic        boolean NOT NULL,
    PRIMARY KEY (version, level, area_code, target)
);

-- How much the top decile depends on the weights: each weight moved by +-20%.
CREATE TABLE harm.robustness (
    version              bigint  NOT NULL,
    period               text    NOT NULL,
    indicator            text    NOT NULL,
    factor               double precision NOT NULL,
    top_decile_retained  double precision,
    spearman             double precision,
    PRIMARY KEY (version, period, indicator, factor),
    FOREIGN KEY (version, period) REFERENCES harm.period ON DELETE CASCADE
);

-- What readers use: the current version only.
CREATE VIEW harm.current_period AS
    SELECT p.* FROM harm.period p JOIN harm.current c USING (version);
CREATE VIEW harm.current_ward_index AS
    SELECT w.* FROM harm.ward_index w JOIN harm.current c USING (version);
CREATE VIEW harm.current_ward_indicator AS
    SELECT w.* FROM harm.ward_indicator w JOIN harm.current c USING (version);
CREATE VIEW harm.current_area_indicator AS
    SELECT a.* FROM harm.area_indicator a JOIN harm.current c USING (version);
CREATE VIEW harm.current_target AS
    SELECT t.* FROM harm.target t JOIN harm.current c USING (version);
CREATE VIEW harm.current_robustness AS
    SELECT r.* FROM harm.robustness r JOIN harm.current c USING (version);

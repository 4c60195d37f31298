-- Need, response and confidence (docs/methodology.md). Police activity is a diagnostic, shown against need
-- and never counted as harm by default: per ward, borough and London and per period, the activity counted
-- (closures, network disruptions, asset seizures, drug searches) per 100 recorded trafficking offences,
-- with its interval, how it compares with London's rate, and where the ward stands on need x response.

CREATE TABLE harm.response (
    version         bigint  NOT NULL,
    period          text    NOT NULL,
    level           text    NOT NULL CHECK (level IN ('ward', 'borough', 'london')),
    area_code       text    NOT NULL,
    activity        double precision NOT NULL,  -- police actions counted (the indicators in harm.period.activity)
    trafficking     double precision NOT NULL,  -- recorded drug trafficking offences (the need they are set against)
    per_100         double precision,           -- activity per 100 trafficking offences; NULL with none recorded
    per_100_lo      double precision,           -- exact 95% interval (Clopper-Pearson on activity / (activity + trafficking))
    per_100_hi      double precision,
    vs_london       text    NOT NULL,           -- higher, lower, similar (London's rate inside the interval), too_few
    need_level      text,                       -- wards: high (need deciles 1-3), middle, low (8-10), unranked
    quadrant        text,                       -- wards: tasking_candidate, need_and_response_high,
                                                -- possible_over_attention, low_need_low_response, no_signal
    synthetic       boolean NOT NULL,
    PRIMARY KEY (version, period, level, area_code),
    FOREIGN KEY (version, period) REFERENCES harm.period ON DELETE CASCADE
);

-- Which activity indicators a period's response figures count (those covering every month of it).
ALTER TABLE harm.period ADD COLUMN activity text[] NOT NULL DEFAULT '{}';

-- A target is one of the strategy's (the two PAS measures) or a labelled diagnostic of the earlier plan;
-- mdc is the smallest change the survey could detect there (80% power, 5% two-sided, design effect applied).
ALTER TABLE harm.target ADD COLUMN role text NOT NULL DEFAULT 'target'
    CHECK (role IN ('target', 'earlier_plan_diagnostic'));
ALTER TABLE harm.target ADD COLUMN mdc double precision;

CREATE VIEW harm.current_response AS
    SELECT r.* FROM harm.response r JOIN harm.current c USING (version);

-- The current_* views list their columns as they were when made: make them again with the new columns.
CREATE OR REPLACE VIEW harm.current_period AS
    SELECT p.* FROM harm.period p JOIN harm.current c USING (version);
CREATE OR REPLACE VIEW harm.current_target AS
    SELECT t.* FROM harm.target t JOIN harm.current c USING (version);

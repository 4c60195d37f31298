-- One period of the current index, with the weights that went into it and the publish's indicator flags.
SELECT p.version, p.period AS label, p.kind, p.first_month, p.last_month, p.weights, p.synthetic, p.dropped,
       u.indicators
FROM harm.current_period p
JOIN harm.publish u USING (version)
WHERE p.period = %(period)s

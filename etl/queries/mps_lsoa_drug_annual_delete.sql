DELETE FROM etl.drug_offence_annual WHERE year = ANY(%(years)s)

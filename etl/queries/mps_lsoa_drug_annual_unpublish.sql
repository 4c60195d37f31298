DELETE FROM harm.indicator_year WHERE indicator = 'drug_offences'

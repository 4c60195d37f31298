-- Every ward code of every vintage, with its borough: which codes exist, and the 2022 ward -> borough.
SELECT vintage, ward_code, borough_code FROM geo.ward

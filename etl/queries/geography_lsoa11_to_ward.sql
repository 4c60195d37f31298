-- LSOA 2011 -> LSOA 2021 (ONS weights) -> 2022 ward (ONS best fit), for the annual MPS series.
SELECT k.lsoa11_code, l.ward_code_2022 AS ward_code, k.weight
FROM geo.lsoa11_lsoa21 k JOIN geo.lsoa21 l ON l.lsoa_code = k.lsoa21_code

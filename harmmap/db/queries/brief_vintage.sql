-- How the 2022 ward boundaries were drawn: the note every printed map carries.
SELECT approximate, boundary_note FROM geo.ward_vintage WHERE vintage = 2022

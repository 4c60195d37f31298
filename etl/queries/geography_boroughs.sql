SELECT borough_code, borough_name FROM geo.borough

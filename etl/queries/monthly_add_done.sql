DROP TABLE add_stage

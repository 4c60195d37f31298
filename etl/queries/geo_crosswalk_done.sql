DROP TABLE cw_pairs

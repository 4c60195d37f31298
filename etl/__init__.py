"""ETL jobs: one module per source kind, each read -> validate -> locate -> load (-> publish)."""

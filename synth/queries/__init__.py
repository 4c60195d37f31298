"""The generator's SQL (reading the reference geography), one statement per ``<name>.sql`` file."""

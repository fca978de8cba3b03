"""Storage: the SQLite database, study specs, leases, checkpoints and the run folder's layout."""

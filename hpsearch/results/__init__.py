"""Results: what a study found (SearchResult, the trials table) and the text report of it."""

"""Execution: the run loop, the trial pool and its backends, running one trial, the progress bar."""

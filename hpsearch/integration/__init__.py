"""Integration with other tools: export of a run into an Optuna storage."""

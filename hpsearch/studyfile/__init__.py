"""Study files: TOML read and checked into a StudyDefinition ([search], [trainer], lr advice)."""

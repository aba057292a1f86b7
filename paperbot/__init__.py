"""paperbot: paperbot package."""

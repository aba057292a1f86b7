"""paperbot: feeds package."""

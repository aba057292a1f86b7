"""paperbot: store package."""

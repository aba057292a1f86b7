"""paperbot: bot package."""

"""paperbot: recommender package."""

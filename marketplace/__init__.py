"""marketplace package."""

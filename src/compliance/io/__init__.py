"""Reading logs and writing reports."""

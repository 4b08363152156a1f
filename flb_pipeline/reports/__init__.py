"""Pictures and documents for humans: plots and Markdown reports (matplotlib, Agg backend)."""

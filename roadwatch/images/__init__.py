"""Image references: fetching under an allow-list and validating content within size and pixel limits."""

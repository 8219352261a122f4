"""Records pages, one module per area."""

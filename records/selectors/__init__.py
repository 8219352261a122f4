"""Records reads shared by several views, one module per area, each in a fixed number of
queries."""

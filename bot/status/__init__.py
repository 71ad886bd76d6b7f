"""Application status queries (handbook 2.4-2.5): reading the numbers customers
type, verifying who is asking, and saying where an application stands."""

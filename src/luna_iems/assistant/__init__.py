"""Luna's tools: answers about the site from the product's own services (issue 14)."""

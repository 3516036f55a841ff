"""The HTTP layer: thin routes, dependencies, error shapes and the request middleware."""

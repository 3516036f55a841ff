"""The calendar adapter: an HTTP client for the provider's events API and the policy around it."""

"""The web app (frontend/) as the API serves it: built files under `/`, and self-hosted API docs."""

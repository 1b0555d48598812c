"""The flows screens and the command palette share, one of each, that the
app routes to: a key's generate, rotate and revoke; an integration's page,
form and status changes; the workspace shown, its members and its trail."""

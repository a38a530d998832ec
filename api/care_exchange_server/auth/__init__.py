"""OAuth 2.0: the authorization server, access tokens, and who the caller is."""

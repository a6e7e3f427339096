"""Login flows (PKCE, loopback callback, device code) and token refresh: the only code that talks
to authorization servers."""

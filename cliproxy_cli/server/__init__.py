"""The Starlette app: inbound routes per API, access control, the request pipeline."""

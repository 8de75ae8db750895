"""ASGI routes: parse, authenticate, call a service, render. No SQL, no business rules."""

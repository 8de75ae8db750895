"""Meeting engines: each translates its vendor's protocol into meetbridge's domain."""

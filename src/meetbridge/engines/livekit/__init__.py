"""LiveKit: a self-hosted SFU that meetbridge runs and controls.

``tokens`` mints access tokens, ``webhooks`` verifies and parses the server's signed events,
``rooms`` is the RoomService (Twirp) client; ``hs256`` is the small JWT layer under all three.
"""

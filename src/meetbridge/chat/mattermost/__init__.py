"""Mattermost: REST client, channel/user cache, WebSocket listener, commands and cards."""

"""The GitHub App: webhook verification, event handling and the server (in progress)."""

"""The Sanic web app: chat page, widget assets and the staff API."""

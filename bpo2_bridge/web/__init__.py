"""The Flask application: factory, auth, grid, shared page parts."""

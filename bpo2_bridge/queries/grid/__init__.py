"""The grid engine: a list's page, sort, Filter Row, search, Create Filter and keyset cursors,
read from a plain mapping of URL parameters into SQLAlchemy Core statements.
No web import here (Flask, werkzeug, markupsafe, web/): web/grid*.py draws and answers the page."""

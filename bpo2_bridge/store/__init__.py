"""The application store, apart from the disposable cache: users and their options, sync
history, the email log, check results, and what ages out of it."""

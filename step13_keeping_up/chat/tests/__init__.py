"""The chat app's tests: `python manage.py test` finds every test_*.py module here."""

"""`python manage.py announce` and `notify`: one module per command."""

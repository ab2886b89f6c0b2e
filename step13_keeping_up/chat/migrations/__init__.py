"""The chat app's database migrations: `python manage.py makemigrations` writes them."""

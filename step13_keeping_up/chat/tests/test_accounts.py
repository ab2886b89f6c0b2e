"""Account tests: Django's test client plays the browser, over plain HTTP."""

from django.contrib.auth.models import User
from django.test import TestCase


class AccountTests(TestCase):
    def test_a_visitor_is_sent_to_the_login_page(self):
        for page in ("/chat/", "/chat/lobby/"):
            response = self.client.get(page)
            self.assertRedirects(response, f"/accounts/login/?next={page}")

    def test_logging_in_leads_to_the_page_asked_for(self):
        User.objects.create_user("alice", password="a long password")
        response = self.client.post(
            "/accounts/login/",
            {"username": "alice", "password": "a long password", "next": "/chat/lobby/"},
        )
        self.assertRedirects(response, "/chat/lobby/")
        self.assertContains(self.client.get("/chat/lobby/"), "Logged in as")

    def test_signing_up_creates_the_account_and_logs_in(self):
        password = "a long password"
        response = self.client.post(
            "/accounts/signup/",
            {"username": "carol", "password1": password, "password2": password},
        )
        self.assertRedirects(response, "/chat/")
        self.assertTrue(User.objects.filter(username="carol").exists())
        self.assertContains(self.client.get("/chat/"), '<strong id="logged-in-user">carol</strong>')

    def test_a_refused_sign_up_says_why(self):
        response = self.client.post(
            "/accounts/signup/", {"username": "dave", "password1": "x", "password2": "y"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "The two password fields didn")
        self.assertFalse(User.objects.filter(username="dave").exists())

    def test_logging_out_is_a_post(self):
        self.client.force_login(User.objects.create_user("erin"))
        # A link (GET) cannot log you out: Django 5 answers 405.
        self.assertEqual(self.client.get("/accounts/logout/").status_code, 405)
        self.assertRedirects(self.client.post("/accounts/logout/"), "/accounts/login/")
        self.assertRedirects(self.client.get("/chat/"), "/accounts/login/?next=/chat/")

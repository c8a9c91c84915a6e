"""Signed-in people using Playbook, for locust (run through bench/load/run.py, which seeds the database and
writes the targets file this reads).

Two kinds of user, each waiting 2-5 s between actions:
- ``Member`` (most users): signs in once, then reads My work, the project page, the play pages, a running
  job's progress partial and the API lists.
- ``SigningIn`` (a share of the users, --signin-share in run.py): signs in, opens My work and signs out, over
  and over, so the password hasher (the production one, Argon2id) runs all through the test.

Environment: BENCH_TARGETS (the JSON file run.py writes: usernames, password, ids), BENCH_SIGNIN_SHARE.
"""
import json
import os
import random

from locust import HttpUser, between, task

TARGETS = json.loads(open(os.environ["BENCH_TARGETS"], encoding="utf-8").read())
SIGNIN_SHARE = float(os.environ.get("BENCH_SIGNIN_SHARE", "0.1"))
PLAYS = TARGETS["plays"]  # {"1": id, ...}


def sign_in(user: HttpUser, username: str) -> None:
    user.client.get("/accounts/login/", name="sign-in page")
    token = user.client.cookies.get("csrftoken", "")
    with user.client.post("/accounts/login/", name="sign-in (POST)", allow_redirects=False, catch_response=True,
                          data={"username": username, "password": TARGETS["password"],
                                "csrfmiddlewaretoken": token},
                          headers={"Referer": user.host + "/accounts/login/"}) as response:
        if response.status_code != 302:
            response.failure(f"sign-in answered {response.status_code}")


class Member(HttpUser):
    weight = max(1, round(100 * (1 - SIGNIN_SHARE)))
    wait_time = between(2, 5)

    def on_start(self):
        self.role = random.choice(["mo", "do", "so"])
        sign_in(self, TARGETS["users"][self.role])

    @task(4)
    def my_work(self):
        self.client.get("/", name="page my-work")

    @task(3)
    def project(self):
        self.client.get(f"/projects/{TARGETS['project']}/", name="page project")

    @task(6)
    def play(self):
        number = random.choice(sorted(PLAYS))
        self.client.get(f"/plays/{PLAYS[number]}/", name=f"page play {number}")

    @task(4)
    def progress(self):
        self.client.get(f"/jobs/{TARGETS['job']}/progress/", name="partial job progress",
                        headers={"HX-Request": "true"})

    @task(1)
    def projects(self):
        self.client.get("/projects/", name="page projects")

    @task(1)
    def monitoring(self):
        self.client.get(f"/deployments/{TARGETS['deployment']}/monitoring/", name="page deployment monitoring")

    @task(1)
    def inbox(self):
        self.client.get("/inbox/", name="page inbox")

    @task(3)
    def api_lists(self):
        path, name = random.choice([
            ("/api/projects/", "api projects"),
            (f"/api/projects/{TARGETS['project']}/plays/", "api project plays"),
            (f"/api/projects/{TARGETS['project']}/datasets/", "api project datasets"),
            (f"/api/projects/{TARGETS['project']}/candidates/", "api project candidates"),
            (f"/api/deployments/{TARGETS['deployment']}/windows/", "api deployment windows"),
            ("/api/alerts/", "api alerts"),
            ("/api/notifications/", "api notifications"),
        ])
        self.client.get(path, name=name, headers={"Accept": "application/json"})


class SigningIn(HttpUser):
    weight = max(1, round(100 * SIGNIN_SHARE))
    wait_time = between(2, 5)

    @task
    def sign_in_and_out(self):
        sign_in(self, TARGETS["users"][random.choice(["mo", "do", "so"])])
        self.client.get("/", name="page my-work")
        token = self.client.cookies.get("csrftoken", "")
        self.client.post("/accounts/logout/", name="sign-out (POST)", allow_redirects=False,
                         data={"csrfmiddlewaretoken": token}, headers={"Referer": self.host + "/"})
        self.client.cookies.clear()

"""A thin client for Superset's REST API: log in (JWT plus CSRF token), then find, create, update and delete
the objects under /api/v1 (database, dataset, chart, dashboard)."""

from __future__ import annotations

import prison
import requests
from dagster import ConfigurableResource
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from resources.redact import redact


class SupersetError(RuntimeError):
    """Superset is unreachable, refused the credentials or rejected a request; the message says which."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status of Superset's answer, when it answered


class SupersetClient:
    """A logged-in session: every request carries the access token, the session cookie and the CSRF token.
    Its errors never carry `secrets` (nor any URL's password): Dagster shows them in the UI and keeps them."""

    def __init__(self, url: str, timeout: float, secrets: tuple[str, ...] = ()) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.secrets = secrets
        self.http = requests.Session()
        self.http.trust_env = False  # Superset is local: never through a proxy
        # A kept-alive connection the server has just closed fails the next request: retry the idempotent ones.
        self.http.mount(self.url, HTTPAdapter(max_retries=Retry(total=2, status=0, backoff_factor=0.2)))

    def request(self, method: str, path: str, **kwargs: object) -> dict:
        """`method` on /api/v1/<path>; the JSON answer, or a SupersetError with Superset's message."""
        url = f"{self.url}/api/v1/{path}"
        try:
            response = self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as exc:
            raise SupersetError(
                redact(
                    f"Superset is unreachable at {self.url} ({exc.__class__.__name__}); "
                    "start it with `lakehouse up --with superset`",
                    self.secrets,
                )
            ) from exc
        if response.status_code >= 400:
            raise SupersetError(
                redact(f"{method} {url} -> HTTP {response.status_code}: {response.text[:2000]}", self.secrets),
                status=response.status_code,
            )
        return response.json() if response.content else {}

    def login(self, username: str, password: str) -> None:
        """Get an access token for `username` and a CSRF token bound to this session."""
        try:
            token = self.request(
                "POST",
                "security/login",
                json={
                    "username": username,
                    "password": password,
                    "provider": "db",
                    "refresh": False,
                },
            )["access_token"]
        except SupersetError as exc:
            if exc.status == 401:
                raise SupersetError(
                    redact(
                        f"Superset at {self.url} refused the credentials of user {username!r} "
                        "(SUPERSET_ADMIN_USER / SUPERSET_ADMIN_PASSWORD)",
                        self.secrets,
                    )
                ) from exc
            raise
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.http.headers["X-CSRFToken"] = self.request("GET", "security/csrf_token/")["result"]
        self.http.headers["Referer"] = self.url

    def find(self, kind: str, identity: dict[str, object]) -> list[dict]:
        """The `kind` objects (database, dataset, chart, dashboard) matching `identity`: column -> value,
        compared with "eq", or -> (operator, value) for another of Superset's filter operators."""
        filters = [
            {"col": col, "opr": value[0], "value": value[1]}
            if isinstance(value, tuple)
            else {"col": col, "opr": "eq", "value": value}
            for col, value in identity.items()
        ]
        query = {"filters": filters, "page_size": 100}
        return self.request("GET", f"{kind}/", params={"q": prison.dumps(query)})["result"]

    def upsert(
        self, kind: str, identity: dict[str, object], body: dict, update: dict | None = None
    ) -> tuple[int, bool]:
        """PUT `update` (default `body`) to the one `kind` object matching `identity`, or POST `body` to create it;
        return (its id, created?). More than one match is an error: nothing is guessed."""
        found = self.find(kind, identity)
        if len(found) > 1:
            raise SupersetError(f"{len(found)} {kind} objects match {identity}; delete the extra ones in Superset")
        if found:
            self.request("PUT", f"{kind}/{found[0]['id']}", json=body if update is None else update)
            return found[0]["id"], False
        return self.request("POST", f"{kind}/", json=body)["id"], True


class SupersetResource(ConfigurableResource):
    """Where Superset answers (SUPERSET_URL), who provisions it, and the SQLAlchemy URI Superset is given
    for the platform's Postgres (SUPERSET_DATABASE_URI, default PG_URL)."""

    url: str
    username: str
    password: str
    database_uri: str
    timeout: float = 30.0

    def client(self) -> SupersetClient:
        """A new logged-in client whose errors mask the password and the database URI's password."""
        client = SupersetClient(self.url, self.timeout, secrets=(self.password, self.database_uri))
        client.login(self.username, self.password)
        return client

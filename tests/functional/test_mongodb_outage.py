"""A MongoDB outage is a clear 503 problem, never a 500 or a traceback."""

from pathlib import Path
from typing import Any

from chat_server.app import create_app
from chat_server.embedded.mongod import EmbeddedMongo
from chat_server.mail import MemoryOutbox
from chat_server.secret import Secret
from chat_server.settings import Settings


async def test_requests_during_a_mongodb_outage_get_503(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    mongo = EmbeddedMongo(tmp_path / "mongo")
    mongo.start()
    try:
        settings = Settings(
            mongodb_uri=Secret(mongo.uri), data_dir=tmp_path, server_secret=Secret("s" * 40)
        )
        outbox = MemoryOutbox()
        client = await aiohttp_client(create_app(settings, mailer=outbox, sms=outbox))
        body = {"email": "ann@example.org", "password": "wrong password!"}
        assert (await client.post("/api/v1/sessions", json=body)).status == 401
        mongo.stop()
        response = await client.post("/api/v1/sessions", json=body)
        assert response.status == 503
        problem = await response.json(content_type="application/problem+json")
        assert problem["code"] == "unavailable"
        assert response.headers["Retry-After"] == "2"
        ready = await client.get("/readyz")
        assert ready.status == 503
    finally:
        mongo.stop()

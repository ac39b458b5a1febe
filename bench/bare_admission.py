"""The bare baseline for bench/intake_throughput.py: FastAPI + asyncpg, one POST
endpoint inserting an admission-like row, served by uvicorn with the same settings
as ``python -m intake serve`` (rescue_chassis.cli: one worker, no access log).

No auth, no idempotency record, no outbox, no ORM: what is left is the floor any
service on this stack pays per request.

    python bench/bare_admission.py --dsn postgresql://postgres@/bare?host=/tmp/x --port 8200
"""

from __future__ import annotations

import argparse
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

DDL = """
CREATE TABLE IF NOT EXISTS admissions (
    id uuid PRIMARY KEY,
    station_id varchar(64) NOT NULL,
    arrival_route varchar(40) NOT NULL,
    sex varchar(10) NOT NULL,
    estimated_age integer,
    dialect varchar(100),
    admitted_at timestamptz NOT NULL
)
"""


class Admission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arrival_route: str
    sex: str
    estimated_age: int | None = None
    dialect: str | None = None


class Admitted(Admission):
    id: uuid.UUID
    station_id: str
    admitted_at: datetime


def create_app(dsn: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The same pool bound as the services' engine (pool_size 10 + overflow 10).
        app.state.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=20)
        async with app.state.pool.acquire() as conn:
            await conn.execute(DDL)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/persons", status_code=201, response_model=Admitted)
    async def admit(body: Admission) -> Admitted:
        row = Admitted(
            **body.model_dump(), id=uuid.uuid4(), station_id="gushi", admitted_at=datetime.now(UTC)
        )
        async with app.state.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO admissions (id, station_id, arrival_route, sex, estimated_age,"
                " dialect, admitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                row.id,
                row.station_id,
                row.arrival_route,
                row.sex,
                row.estimated_age,
                row.dialect,
                row.admitted_at,
            )
        return row

    @app.get("/health/ready")
    async def ready() -> dict:
        return {"status": "ready"}

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Exactly the uvicorn settings of rescue_chassis.cli's `serve`.
    uvicorn.run(
        create_app(args.dsn),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )

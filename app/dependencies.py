"""The one classifier of outages: tell a dependency that cannot be reached (the database,
storage, a connection) from a bug. The API answers an outage of the database or storage with
a 503 naming it, which the client can retry; the workers retry a stage through any outage
(workers/runner.py). Anything else is a bug or a bad input: a 500, or the job's failure."""

from __future__ import annotations

from typing import Literal

from app.errors import DatabaseUnavailableError, Problem, StorageUnavailableError

Outage = Literal["database", "storage", "connection"]


def outage(exc: BaseException) -> Outage | None:
    """What ``exc`` says is down: the database, storage, or an unnamed connection (a socket
    refused or timed out); None when it is no outage."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return "database"
    server_error = (
        isinstance(exc, ClientError)
        and int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) >= 500
    )
    if server_error or isinstance(exc, BotoConnectionError | HTTPClientError | S3UploadFailedError):
        return "storage"
    if isinstance(exc, ConnectionError | TimeoutError):
        return "connection"
    return None


def unavailable(exc: BaseException) -> Problem | None:
    """The 503 problem for ``exc`` when it means the database or storage cannot be reached,
    else None."""
    down = outage(exc)
    if down == "database":
        return DatabaseUnavailableError("the database cannot be reached; try again shortly")
    if down == "storage":
        return StorageUnavailableError("storage cannot be reached; try again shortly")
    return None

"""Tell an outage of a dependency (the database, storage) from a bug: the first is a 503 the
client can retry, naming what is down; the second stays a 500."""

from __future__ import annotations

from app.errors import DatabaseUnavailableError, Problem, StorageUnavailableError


def unavailable(exc: BaseException) -> Problem | None:
    """The problem for ``exc`` when it means a dependency cannot be reached, else None."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return DatabaseUnavailableError("the database cannot be reached; try again shortly")
    server_error = (
        isinstance(exc, ClientError)
        and int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)) >= 500
    )
    if server_error or isinstance(exc, BotoConnectionError | HTTPClientError | S3UploadFailedError):
        return StorageUnavailableError("storage cannot be reached; try again shortly")
    return None

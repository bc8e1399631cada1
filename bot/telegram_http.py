"""The Bot API's HTTP transport: python-telegram-bot's ``BaseRequest`` over aiohttp.

python-telegram-bot talks HTTP through a replaceable ``BaseRequest``; its default uses httpx,
which, measured in this bot (docs/benchmarks.md), spent more CPU per sent message than
everything else the sender does. aiohttp is already the bot's webhook server, and its client
does the same work for a fraction of the cost. Only the transport changes: the Bot API calls,
their parameters and python-telegram-bot's error handling stay exactly as they are.
"""

from __future__ import annotations

import json
import logging
import warnings
from datetime import timedelta
from http import HTTPStatus
from typing import Any, cast

import aiohttp
from telegram import Bot
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)


def retry_seconds(exc: RetryAfter) -> float:
    """The seconds a 429 asks to wait."""
    with warnings.catch_warnings():  # an int today, a timedelta in a later release
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        retry = exc.retry_after
    return retry.total_seconds() if isinstance(retry, timedelta) else float(retry)


class JsonApi:
    """The long poll's ``getUpdates`` and the sender's ``sendMessage``, answers left as JSON.

    ``Bot``'s own methods turn every answer into python-telegram-bot objects, which the poll
    only turned back into JSON to store and the sender only read a message id from — a tenth
    of the bot's time in a burst (docs/benchmarks.md). These two calls go through the bot's
    own transports (``getUpdates`` on its own connection) with ``BaseRequest.post``, which
    checks the answer exactly as for ``Bot``'s methods (``RetryAfter``, ``Forbidden``,
    ``BadRequest``, ``InvalidToken`` …) and returns its result as JSON. ``None`` parameters
    are left out, as ``Bot``'s methods do. Every other call goes through :attr:`bot`.

    ``RequestParameter`` (what ``RequestData`` is made of) is internal to python-telegram-bot;
    the tests compare what this sends with what ``Bot.send_message`` sends, so a change there
    fails them.
    """

    def __init__(
        self, bot: Bot, request: BaseRequest, updates_request: BaseRequest | None = None
    ) -> None:
        self.bot = bot
        self._request = request
        self._updates_request = updates_request or request

    async def get_updates(
        self, parameters: dict[str, Any], *, read_timeout: float | None
    ) -> list[dict[str, Any]]:
        """``getUpdates``: the updates as Telegram sent them."""
        answer = self._post(self._updates_request, "getUpdates", parameters, read_timeout)
        return cast("list[dict[str, Any]]", await answer)

    async def send_message(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """``sendMessage``: the message sent, as Telegram described it."""
        answer = self._post(self._request, "sendMessage", parameters)
        return cast("dict[str, Any]", await answer)

    async def _post(
        self,
        request: BaseRequest,
        endpoint: str,
        parameters: dict[str, Any],
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> JSONDict | list[JSONDict] | bool:
        data = RequestData(
            [RequestParameter.from_input(k, v) for k, v in parameters.items() if v is not None]
        )
        return await request.post(
            f"{self.bot.base_url}/{endpoint}", data, read_timeout=read_timeout
        )


class AiohttpRequest(BaseRequest):
    """A pool of keep-alive connections to the Bot API.

    The timeouts mean what they mean for python-telegram-bot's default transport: ``pool``
    waits for a free connection, ``connect`` for a new one, ``read`` for each part of the
    answer; ``write`` bounds the whole call together with the others.
    """

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the connection pool (again, after ``shutdown``)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the connection pool."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one request; return the status code and the body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write = self._media_write_timeout if files else self._write_timeout
        else:
            write = write_timeout
        parts = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(p for p in parts if p is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        form: aiohttp.FormData | None = None
        parameters: dict[str, Any] | None = None
        if request_data is not None and files:
            # Uploads go as multipart, like python-telegram-bot's own transport.
            form = aiohttp.FormData(request_data.json_parameters)
            for name, (filename, content, mime) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime)
        elif request_data is not None:
            # Everything else as one JSON object, which the Bot API accepts too: one C-level
            # encoding instead of a JSON string per parameter and then URL-encoding them all.
            parameters = request_data.parameters
        try:
            async with self._session.request(
                method, url, data=form, json=parameters, timeout=timeout
            ) as response:
                status, body = response.status, await response.read()
                if (
                    not HTTPStatus.OK <= status <= 299
                    and response.content_type != "application/json"
                ):
                    body = _error_answer(status, response.content_type)
                return status, body
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    @staticmethod
    def parse_json_payload(payload: bytes) -> JSONDict:
        """Parse an answer; one that is not JSON is an error of one log line, no traceback."""
        try:
            return cast(JSONDict, json.loads(payload.decode("utf-8", "replace")))
        except ValueError:
            log.warning("the Bot API answered with invalid JSON: %r", payload[:120])
            raise TelegramError("Invalid server response") from None


def _error_answer(status: int, content_type: str) -> bytes:
    """Telegram's JSON for an error answered without it (a proxy's HTML page for a 502).

    python-telegram-bot would log the page with a traceback as invalid JSON before raising the
    same error as for Telegram's own answer; the fault is retried like any other 5xx, so it
    deserves one warning line (the sender's), not a traceback.
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "HTTP error"
    description = f"{phrase} ({status}, answered with {content_type or 'no content type'})"
    return json.dumps({"ok": False, "error_code": status, "description": description}).encode()

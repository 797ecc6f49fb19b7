"""Signing in the WeCom way: web OAuth for the pages opened inside WeCom.

Inside WeCom a page has no token to paste: it sends the advisor to
``/app/oauth/start``, which redirects to WeCom's authorize page; WeCom comes back
to ``/app/oauth/callback`` with a one-time ``code``, exchanged through the API
(auth/getuserinfo) for the WeCom user id, mapped to the advisor registered with
``copilot advisors add … --wecom-userid``. The page gets a session token of its
own (bot.sessions) in the URL fragment, which browsers never send to a server.

A random ``state`` kept in an HttpOnly cookie must come back with the code (no
one can sign a victim in as someone else), and the page to return to must be one
of ours (no open redirect).
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import urllib.parse

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import select

from bot.cards.db import session_scope
from bot.cards.models import Advisor
from bot.channels.wecom.api import WeComApiError, WeComClient
from bot.clock import utcnow
from bot.sessions import open_session

logger = logging.getLogger(__name__)

OAUTH_BASE_ENV = "WECOM_OAUTH_BASE"
DEFAULT_OAUTH_BASE = "https://open.weixin.qq.com"
PUBLIC_URL_ENV = "COPILOT_PUBLIC_URL"
COOKIE = "copilot_oauth"
COOKIE_SECONDS = 600
DEFAULT_NEXT = "/app/"


def safe_next(value: str | None) -> str:
    """A page of this app to return to; anything else (another host, a scheme) → /app/."""
    if not value or not value.startswith("/app/") or "//" in value or "\\" in value:
        return DEFAULT_NEXT
    return value


def public_base(request: Request) -> str:
    """The address the browser reached us at (COPILOT_PUBLIC_URL behind a proxy)."""
    configured = os.environ.get(PUBLIC_URL_ENV)
    if configured:
        return configured.rstrip("/")
    scheme = request.headers.get("x-forwarded-proto") or request.scheme
    return f"{scheme}://{request.host}"


def authorize_url(wecom: WeComClient, redirect_uri: str, state: str) -> str:
    base = (os.environ.get(OAUTH_BASE_ENV) or DEFAULT_OAUTH_BASE).rstrip("/")
    query = urllib.parse.urlencode(
        {
            "appid": wecom.corp_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": wecom.agent_id,
        }
    )
    return f"{base}/connect/oauth2/authorize?{query}#wechat_redirect"


def _back(next_page: str, **fragment: str) -> HTTPResponse:
    answer = response.redirect(f"{next_page}#{urllib.parse.urlencode(fragment)}")
    answer.headers["Cache-Control"] = "no-store"
    answer.headers["Referrer-Policy"] = "no-referrer"
    answer.cookies[COOKIE] = ""  # the state is spent
    answer.cookies[COOKIE]["path"] = "/app/oauth"
    answer.cookies[COOKIE]["max-age"] = 0
    return answer


def sign_in(wecom_userid: str) -> str | None:
    """A session token for the advisor registered with this WeCom user id."""
    with session_scope() as session:
        advisor = session.scalars(
            select(Advisor).where(Advisor.wecom_userid == wecom_userid)
        ).first()
        if advisor is None:
            return None
        return open_session(session, advisor.id, "wecom", utcnow())


def register(app: Blueprint, wecom: WeComClient | None) -> None:
    @app.route("/oauth/config", methods=["GET"])
    async def oauth_config(_: Request) -> HTTPResponse:
        return response.json({"enabled": wecom is not None})

    @app.route("/oauth/start", methods=["GET"])
    async def oauth_start(request: Request) -> HTTPResponse:
        if wecom is None:
            return response.json({"error": "WeCom is not configured"}, status=404)
        state = secrets.token_urlsafe(16)
        next_page = safe_next(request.args.get("next"))
        callback = f"{public_base(request)}/app/oauth/callback"
        answer = response.redirect(authorize_url(wecom, callback, state))
        packed = base64.urlsafe_b64encode(next_page.encode()).decode()
        answer.cookies[COOKIE] = f"{state}.{packed}"
        cookie = answer.cookies[COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Lax"
        cookie["path"] = "/app/oauth"
        cookie["max-age"] = COOKIE_SECONDS
        return answer

    @app.route("/oauth/callback", methods=["GET"])
    async def oauth_callback(request: Request) -> HTTPResponse:
        if wecom is None:
            return response.json({"error": "WeCom is not configured"}, status=404)
        state, _, packed = (request.cookies.get(COOKIE) or "").partition(".")
        try:
            next_page = safe_next(base64.urlsafe_b64decode(packed.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            next_page = DEFAULT_NEXT
        code = request.args.get("code")
        if not state or request.args.get("state") != state or not code:
            return _back(next_page, copilot_error="state")
        try:
            user_id = await wecom.user_id_from_code(code)
        except WeComApiError as exc:
            logger.warning("WeCom sign-in failed: %s", exc)
            return _back(next_page, copilot_error="wecom")
        token = sign_in(user_id)
        if token is None:
            logger.info("WeCom user %s is not registered as an advisor", user_id)
            return _back(next_page, copilot_error="unregistered")
        return _back(next_page, copilot_token=token)

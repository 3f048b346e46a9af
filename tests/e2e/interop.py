"""Interop: the chat demo against Python's `websockets` client (PyPI), a
plain RFC 6455 implementation that knows nothing of wsguard.

    python3 tests/e2e/interop.py PORT          # the demo as `cargo run --example chat` starts it
    python3 tests/e2e/interop.py PORT http     # started with --http-rejections

Exits non-zero with a message on the first failed check.
"""

import asyncio
import json
import sys
import urllib.error
import urllib.request

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

PORT = int(sys.argv[1])
URL = f"ws://127.0.0.1:{PORT}/ws"
ORIGIN = f"http://127.0.0.1:{PORT}"


def check(condition, what):
    if not condition:
        sys.exit(f"interop: FAILED: {what}")
    print(f"interop: ok: {what}")


async def login(token, header=True):
    """Alice and admin use the Authorization header; bob the subprotocol offer."""
    if header:
        ws = await connect(URL, origin=ORIGIN, additional_headers={"Authorization": f"Bearer {token}"},
                           subprotocols=["chat.v1"])
    else:
        ws = await connect(URL, origin=ORIGIN, subprotocols=["chat.v1", f"bearer.{token}"])
    check(ws.subprotocol == "chat.v1", f"{token}: the server selected chat.v1, never the token")
    await ws.send(json.dumps({"type": "join", "room": "lobby"}))
    joined = json.loads(await ws.recv())
    check(joined["type"] == "joined", f"{token}: joined the lobby")
    return ws


async def next_of(ws, kind):
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["type"] == kind:
            return message


async def closed_with(ws):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as closed:
        return closed.rcvd.code, closed.rcvd.reason


async def main():
    alice = await login("alice-token")
    bob = await login("bob-token", header=False)
    admin = await login("admin-token")

    await alice.send(json.dumps({"type": "chat", "room": "lobby", "text": "mail jane.doe@example.com"}))
    to_bob = await next_of(bob, "chat")
    to_admin = await next_of(admin, "chat")
    check(to_bob["from"] == "alice" and "jane.doe@example.com" not in to_bob["text"]
          and "@example.com" in to_bob["text"], f"bob sees the email masked: {to_bob['text']!r}")
    check(to_admin["text"] == "mail jane.doe@example.com", "admin sees it unmasked")
    notice = await next_of(alice, "notice")
    check("email" in notice["text"], "alice is told others see it masked")

    await alice.send(json.dumps({"type": "chat", "room": "Lobby!", "text": "x"}))
    error = await next_of(alice, "error")
    check(error["code"] == "invalid_message" and error["path"] == "/room", "a bad room name is invalid_message at /room")
    await alice.send(json.dumps({"type": "kick", "user": "bob"}))
    check((await next_of(alice, "error"))["code"] == "forbidden", "alice may not kick")

    for i in range(12):
        await alice.send(json.dumps({"type": "chat", "room": "lobby", "text": f"flood {i}"}))
    check((await next_of(alice, "error"))["code"] == "rate_limited", "a flood gets rate_limited")

    await admin.send(json.dumps({"type": "kick", "user": "bob"}))
    check((await next_of(admin, "kicked"))["sessions"] == 1, "admin kicks bob")
    check(await closed_with(bob) == (4403, "session revoked"), "bob's connection is closed with 4403")

    wrong = await connect(URL, origin=ORIGIN, subprotocols=["chat.v1", "bearer.wrong-token"])
    check((await closed_with(wrong))[0] == 4401, "a wrong token is closed with 4401")
    evil = await connect(URL, origin="http://evil.example", additional_headers={"Authorization": "Bearer alice-token"})
    check((await closed_with(evil))[0] == 4403, "another origin is closed with 4403")

    # Rooms: at most 8 per connection, joins rate-limited (burst 10, then 1/s).
    for i in range(7):
        await admin.send(json.dumps({"type": "join", "room": f"room-{i}"}))
        check((await next_of(admin, "joined"))["room"] == f"room-{i}", f"admin joins room-{i}")
    await admin.send(json.dumps({"type": "join", "room": "one-too-many"}))
    check((await next_of(admin, "error"))["code"] == "too_many_rooms", "a ninth room is too_many_rooms")
    codes = []
    for i in range(3):
        await admin.send(json.dumps({"type": "join", "room": f"another-{i}"}))
        codes.append((await next_of(admin, "error"))["code"])
    check(codes == ["too_many_rooms", "rate_limited", "rate_limited"], f"joins over the quota are rate_limited: {codes}")

    for ws in (alice, admin):
        await ws.close()
    security_headers()


def security_headers():
    """The page and its assets, and a 404, carry the security headers."""
    for path, status in [("/", 200), ("/chat.js", 200), ("/chat.css", 200), ("/nope", 404)]:
        try:
            response = urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=5)
        except urllib.error.HTTPError as error:
            response = error
        headers = response.headers
        csp = headers.get("content-security-policy", "")
        check(response.status == status, f"GET {path} is {status}")
        check("connect-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
              and "unsafe-inline" not in csp, f"GET {path}: CSP limits connect-src, framing and scripts: {csp!r}")
        check(headers.get("x-content-type-options") == "nosniff", f"GET {path}: nosniff")
        check(headers.get("referrer-policy") == "no-referrer", f"GET {path}: no-referrer")


async def http_rejections():
    for what, kwargs, status in [
        ("a wrong token", {"origin": ORIGIN, "subprotocols": ["chat.v1", "bearer.wrong-token"]}, 401),
        ("another origin", {"origin": "http://evil.example", "additional_headers": {"Authorization": "Bearer alice-token"}}, 403),
    ]:
        try:
            await connect(URL, **kwargs)
            check(False, f"{what} is refused with HTTP {status}")
        except InvalidStatus as refused:
            check(refused.response.status_code == status, f"{what} is refused with HTTP {status}")


MODES = {"http": http_rejections}
asyncio.run(MODES[sys.argv[2]]() if len(sys.argv) > 2 else main())

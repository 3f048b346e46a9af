"""The chat demo as a fleet: two instances sharing one Redis (`--redis`).
An admin's kick on one instance closes the user's session on the other with
4403, and neither instance lets the user back in.

    python3 tests/e2e/fleet.py PORT_A PORT_B

Exits non-zero with a message on the first failed check.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

A, B = int(sys.argv[1]), int(sys.argv[2])


def check(condition, what):
    if not condition:
        sys.exit(f"fleet: FAILED: {what}")
    print(f"fleet: ok: {what}")


async def login(port, token):
    ws = await connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}",
                       additional_headers={"Authorization": f"Bearer {token}"}, subprotocols=["chat.v1"])
    await ws.send(json.dumps({"type": "join", "room": "lobby"}))
    return ws, json.loads(await ws.recv())


async def closed_with(ws):
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else None


async def main():
    bob, joined = await login(B, "bob-token")
    check(joined["type"] == "joined", "bob joins on instance B")
    admin, _ = await login(A, "admin-token")
    await admin.send(json.dumps({"type": "kick", "user": "bob"}))
    reply = json.loads(await admin.recv())
    check(reply["type"] == "kicked" and reply["sessions"] == 0, "admin kicks bob on instance A (no session there)")
    check(await closed_with(bob) == 4403, "bob's session on instance B closes with 4403")
    for name, port in (("A", A), ("B", B)):
        again = await connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}",
                              additional_headers={"Authorization": "Bearer bob-token"}, subprotocols=["chat.v1"])
        check(await closed_with(again) == 4403, f"bob cannot come back on instance {name} (4403)")
    alice, joined = await login(B, "alice-token")
    check(joined["type"] == "joined", "alice is not affected")
    # Five connections per user across the fleet: alice's sixth is refused.
    more = [(await login(port, "alice-token"))[0] for port in (A, B, A, B)]
    sixth = await connect(f"ws://127.0.0.1:{A}/ws", origin=f"http://127.0.0.1:{A}",
                          additional_headers={"Authorization": "Bearer alice-token"}, subprotocols=["chat.v1"])
    check(await closed_with(sixth) == 4429, "alice's sixth connection across the instances is refused (4429)")
    for ws in more:
        await ws.close()
    await alice.close()
    await admin.close()


asyncio.run(main())

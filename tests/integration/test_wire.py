"""The lean HTTP/1.1 transport (kube.wire) against real servers on 127.0.0.1: each framing
a server may choose, a keep-alive connection the server closed while idle, a watch-like
stream read as it arrives. The Kubernetes side is covered by every cluster test."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from phasegate.kube import auth, wire
from phasegate.kube.client import KubeClient
from phasegate.kube.kubeconfig import Credentials

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(length)


class Server:
    def __init__(self, handler: Handler) -> None:
        self.handler, self.connections = handler, 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def client_for(handler: Handler) -> AsyncIterator[tuple[httpx.AsyncClient, Server]]:
    server = Server(handler)
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                               transport=wire.Http11(f"http://127.0.0.1:{port}", True),
                               timeout=5)
    try:
        yield client, server
    finally:
        await client.aclose()
        listening.close()


def respond(*responses: bytes, close_after: bool = False) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for response in responses:
            await read_request(reader)
            writer.write(response)
            await writer.drain()
        if not close_after:
            await reader.read()  # keep the connection open until the client goes
    return handler


def run(test: Callable[[httpx.AsyncClient, Server], Awaitable[None]], handler: Handler) -> None:
    async def main() -> None:
        async with client_for(handler) as (client, server):
            await test(client, server)
    asyncio.run(main())


def test_content_length_and_keep_alive() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"

    async def test(client: httpx.AsyncClient, server: Server) -> None:
        for _ in range(3):
            response = await client.patch("/x", content=b'{"a": 1}')
            assert response.status_code == 200 and response.json() == {}
        assert server.connections == 1  # one connection, kept alive for all three

    run(test, respond(ok, ok, ok))


def test_chunked_body_and_trailers() -> None:
    chunked = (b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")

    async def test(client: httpx.AsyncClient, server: Server) -> None:
        response = await client.get("/y")
        assert (response.status_code, response.text) == (404, "hello world")
        again = await client.get("/y")
        assert again.text == "hello world" and server.connections == 1

    run(test, respond(chunked, chunked))


def test_body_until_the_server_closes() -> None:
    async def test(client: httpx.AsyncClient, server: Server) -> None:
        response = await client.get("/z")
        assert response.text == "all of it"
        second = await client.get("/z")  # that connection ended: a new one serves this
        assert second.text == "all of it" and server.connections == 2

    run(test, respond(b"HTTP/1.1 200 OK\r\n\r\nall of it", close_after=True))


def test_a_connection_closed_while_idle_is_replaced_once() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes"
    served = {"connections": 0}

    async def idle_timeout(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served["connections"] += 1
        await read_request(reader)
        writer.write(ok)
        await writer.drain()
        if served["connections"] == 1:
            await read_request(reader)  # the server's idle timeout fires as this arrives

    async def test(client: httpx.AsyncClient, server: Server) -> None:
        assert (await client.post("/a", content=b"1")).text == "yes"
        assert (await client.post("/a", content=b"2")).text == "yes"
        assert server.connections == 2

    run(test, idle_timeout)


def test_a_fresh_connection_that_ends_without_answer_is_an_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async def test(client: httpx.AsyncClient, server: Server) -> None:
        with pytest.raises(httpx.RemoteProtocolError, match="disconnected"):
            await client.get("/b")
        assert server.connections == 1  # never retried: the request may have been acted on

    run(test, silent)


def test_a_streamed_body_arrives_chunk_by_chunk() -> None:
    released = asyncio.Event()

    async def watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b'b\r\n{"type":1}\n\r\n')
        await writer.drain()
        await released.wait()
        writer.write(b'b\r\n{"type":2}\n\r\n0\r\n\r\n')
        await writer.drain()
        await reader.read()

    async def test(client: httpx.AsyncClient, server: Server) -> None:
        seen = []
        async with client.stream("GET", "/watch") as response:
            async for line in response.aiter_lines():
                seen.append(line)
                released.set()  # the second event is sent only once the first was read
        assert seen == ['{"type":1}', '{"type":2}']

    run(test, watch)


def test_connection_refused_names_the_errno() -> None:
    async def main() -> None:
        listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        listening.close()
        await listening.wait_closed()
        transport = wire.Http11(f"https://127.0.0.1:{port}", True)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ConnectError) as raised:
                await client.get(f"https://127.0.0.1:{port}/")
        assert isinstance(raised.value.__cause__, ConnectionRefusedError)

    asyncio.run(main())


def test_the_client_s_direct_lane_keeps_the_server_path_and_the_credential() -> None:
    """KubeClient sends whole-answer requests straight on the wire: the kubeconfig server's
    path prefix (as Rancher's proxy gives), the bearer token, the query as httpx writes it,
    and a gzipped answer decoded."""
    seen: list[bytes] = []
    answer = gzip.compress(b'{"kind": "ConfigMap"}')

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                     % len(answer) + answer)
        await writer.drain()
        await reader.read()

    async def main() -> None:
        listening = await asyncio.start_server(server, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        credentials = Credentials(
            server=f"http://127.0.0.1:{port}/k8s/clusters/c-1", context="c", cluster="c",
            user="u", namespace=None, ssl_context=True, auth=auth.Bearer("t0ken-for-wire"),
            kubeconfig="kubeconfig")
        client = KubeClient(credentials)
        try:
            found = await client.get("/api/v1/namespaces/a/configmaps/b",
                                     params={"dryRun": "All", "pretty": False})
        finally:
            await client.close()
            listening.close()
        assert found == {"kind": "ConfigMap"}

    asyncio.run(main())
    head = seen[0].split(b"\r\n")
    assert head[0] == (b"GET /k8s/clusters/c-1/api/v1/namespaces/a/configmaps/b"
                       b"?dryRun=All&pretty=false HTTP/1.1")
    assert b"Authorization: Bearer t0ken-for-wire" in head

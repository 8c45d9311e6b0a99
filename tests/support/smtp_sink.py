#!/usr/bin/env python3
"""A tiny SMTP server for tests: every message it receives becomes one .eml file.

    python3 tests/support/smtp_sink.py --port 0 --dir DIR

Listens on 127.0.0.1 (port 0 picks a free one) and prints `PORT <n>` on stdout once it accepts
connections. Each message is written to DIR as 000001.eml, 000002.eml, ... (written to a
temporary name first, then renamed, so a reader never sees half a message), its raw content
preceded by one `X-Envelope-From:` header and one `X-Envelope-To:` header per recipient. The
file exists before the server answers 250 to the client's DATA.

With --exit-on-stdin-eof it exits when its standard input closes, so a test process that dies
without cleaning up does not leave the server behind. Needs aiosmtpd (pip install aiosmtpd).
"""

import argparse
import asyncio
import os
import socket
import sys
import threading

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = f"{self.count:06d}.eml"
        head = [f"X-Envelope-From: {envelope.mail_from}"]
        head += [f"X-Envelope-To: {rcpt}" for rcpt in envelope.rcpt_tos]
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        data = ("\r\n".join(head) + "\r\n").encode("utf-8") + content
        temporary = os.path.join(self.directory, f".{name}.tmp")
        with open(temporary, "wb") as file:
            file.write(data)
        os.replace(temporary, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


def exit_when_stdin_closes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


async def serve(port, directory):
    sink = Sink(directory)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink, hostname="gatehouse-test-sink", enable_SMTPUTF8=True),
        sock=listener,
    )
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--dir", required=True, help="where received messages go")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when standard input closes (the parent went away)",
    )
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    if args.exit_on_stdin_eof:
        threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    try:
        asyncio.run(serve(args.port, args.dir))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

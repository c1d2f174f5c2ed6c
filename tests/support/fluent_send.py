#!/usr/bin/env python3
"""Independent clients for the forward input's tests (tests/forward.rs).

Uses the `fluent-logger` package (fluent.sender.FluentSender) and `msgpack` to speak the
fluentd forward protocol the way real clients do. Each subcommand prints one JSON object on
its last stdout line for the Rust test to check, and exits non-zero when the server answered
wrongly (a missing or wrong ack).

  logger PORT N           N records with nanosecond EventTime (tag app.nano), N with
                          integer seconds (tag app.secs), through FluentSender
  reconnect PORT          a record emitted while nothing listens is buffered by FluentSender
                          and sent after the line "go" arrives on stdin (the server is up by
                          then); a second sender with a 1-byte buffer hands its two records
                          to buffer_overflow_handler, whose bytes are then replayed raw
  frames PORT             Forward, PackedForward, CompressedPackedForward (two gzip members)
                          and Message frames with `chunk` options, written in one go; reads
                          the acks
  docker PORT             what Docker's fluentd driver sends with fluentd-request-ack and
                          fluentd-sub-second-precision: Message frames, one per record, each
                          acked before the next; a 40000-byte line split into 16 KiB pieces
"""

import base64
import gzip
import json
import os
import socket
import sys
import time

import msgpack
from fluent import sender

HOST = "127.0.0.1"
BASE = 1700000000


def fail(message):
    print(json.dumps({"error": message}))
    sys.exit(1)


def read_acks(sock, count, timeout=5.0):
    """Reads `count` msgpack objects from `sock`."""
    sock.settimeout(timeout)
    unpacker = msgpack.Unpacker(raw=False)
    acks = []
    while len(acks) < count:
        data = sock.recv(65536)
        if not data:
            fail(f"connection closed after {len(acks)} of {count} acks")
        unpacker.feed(data)
        acks.extend(unpacker)
    return acks


def logger(port, n):
    nano = sender.FluentSender("app", host=HOST, port=port, nanosecond_precision=True)
    secs = sender.FluentSender("app", host=HOST, port=port)
    for i in range(n):
        record = {
            "seq": i,
            "msg": f"hello {i}",
            "nested": {"list": [1, 2.5, None, True], "deep": {"k": "v"}},
            "raw": b"\xff\xfeok",
            "unicode": "h\u00e9llo \u2603",
        }
        if not nano.emit_with_time("nano", sender.EventTime(BASE + i, 123456789), record):
            fail(f"nano emit {i}: {nano.last_error}")
        if not secs.emit_with_time("secs", BASE + i, {"seq": i, "log": f"line {i}"}):
            fail(f"secs emit {i}: {secs.last_error}")
    # One record stamped by the library with the current time.
    if not nano.emit("now", {"seq": n}):
        fail(f"emit now: {nano.last_error}")
    nano.close()
    secs.close()
    print(json.dumps({"sent": 2 * n + 1}))


def reconnect(port):
    overflows = []
    buffered = sender.FluentSender(
        "re", host=HOST, port=port, buffer_overflow_handler=overflows.append
    )
    first = buffered.emit("buffered", {"n": 1})
    tiny_overflows = []
    tiny = sender.FluentSender(
        "re", host=HOST, port=port, bufmax=1, buffer_overflow_handler=tiny_overflows.append
    )
    # The second failed emit finds the buffer over bufmax and hands both records over.
    tiny.emit("overflowed", {"n": 3})
    tiny.emit("overflowed", {"n": 4})
    print("buffered", flush=True)
    if sys.stdin.readline().strip() != "go":
        fail("no go")
    second = buffered.emit("buffered", {"n": 2})
    buffered.close()
    tiny.close()
    # The overflow handler got the unsent frames' bytes: deliver them ourselves.
    with socket.create_connection((HOST, port)) as sock:
        for pending in tiny_overflows:
            sock.sendall(pending)
    print(
        json.dumps(
            {
                "first": first,
                "second": second,
                "overflows": len(overflows),
                "tiny_overflows": len(tiny_overflows),
            }
        )
    )


def entry(t, record):
    return msgpack.packb([t, record])


def frames(port):
    forward = [
        "mode.forward",
        [
            [sender.EventTime(BASE, 5), {"log": "fwd 0"}],
            [BASE + 1, {"log": "fwd 1"}],
            [BASE + 2.25, {"log": "fwd 2"}],
        ],
        {"chunk": "fwd-1", "size": 3},
    ]
    packed_entries = b"".join(entry(BASE + i, {"log": f"packed {i}"}) for i in range(300))
    packed = ["mode.packed", packed_entries, {"chunk": "packed-1", "size": 300}]
    # fluentd appends one gzip member per write to a compressed chunk: send two.
    gz_entries = [entry(sender.EventTime(BASE, i), {"log": f"gz {i}"}) for i in range(10)]
    gz = gzip.compress(b"".join(gz_entries[:4])) + gzip.compress(b"".join(gz_entries[4:]))
    compressed = [
        "mode.gzip",
        gz,
        {"chunk": "gzip-1", "size": 10, "compressed": "gzip"},
    ]
    message = ["mode.message", BASE, {"log": "msg", "n": 1}, {"chunk": "msg-1"}]
    # Packed entries as a str rather than bin (older clients).
    packed_str = msgpack.packb(
        ["mode.packedstr", entry(BASE, {"log": "as str"})], use_bin_type=False
    )
    stream = b"".join(msgpack.packb(f) for f in (forward, packed, compressed, message))
    with socket.create_connection((HOST, port)) as sock:
        sock.sendall(stream)
        acks = read_acks(sock, 4)
        sock.sendall(packed_str)
    print(json.dumps({"acks": acks}))


def docker(port):
    container_a = "a" * 64
    container_b = "b" * 64
    env = {"MESOS_TASK_ID": "webshop_db.d10caa92-2a48-11e7-9f2d-02425eb2d6f3",
           "MARATHON_APP_ID": "/webshop/db"}
    long_line = "".join(chr(ord("a") + i % 26) for i in range(40000))
    pieces = [long_line[i:i + 16384] for i in range(0, len(long_line), 16384)]
    partial_id = "f" * 64

    def record(container, name, source, log, **extra):
        r = {"container_id": container, "container_name": name, "source": source, "log": log}
        r.update(env)
        r.update(extra)
        return r

    records = [
        ("docker.a", record(container_a, "/webshop-db.1", "stdout", "starting up")),
    ]
    for i, piece in enumerate(pieces):
        records.append(("docker.a", record(
            container_a, "/webshop-db.1", "stdout", piece,
            partial_message="true", partial_id=partial_id,
            partial_ordinal=str(i + 1), partial_last="true" if i == len(pieces) - 1 else "false",
        )))
        if i == 0:
            # Another container's line in the middle of container a's pieces.
            records.append(("docker.b", record(container_b, "/cache.1", "stderr", "oops")))
    records.append(("docker.a", record(container_a, "/webshop-db.1", "stderr", "done")))

    with socket.create_connection((HOST, port)) as sock:
        for n, (tag, rec) in enumerate(records):
            chunk = base64.b64encode(os.urandom(16)).decode()
            frame = [tag, sender.EventTime(BASE + n, 500), rec, {"chunk": chunk}]
            sock.sendall(msgpack.packb(frame))
            ack = read_acks(sock, 1)[0]
            if ack != {"ack": chunk}:
                fail(f"record {n}: expected ack {chunk}, got {ack}")
    print(json.dumps({"sent": len(records), "pieces": len(pieces)}))


def main():
    command, port = sys.argv[1], int(sys.argv[2])
    if command == "logger":
        logger(port, int(sys.argv[3]))
    elif command == "reconnect":
        reconnect(port)
    elif command == "frames":
        frames(port)
    elif command == "docker":
        docker(port)
    else:
        fail(f"unknown command {command}")


if __name__ == "__main__":
    main()

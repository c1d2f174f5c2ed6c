#!/usr/bin/env python3
"""Independent AvroFlumeEvent encoder/decoder for the flume codec's tests (tests/flume_codec.rs).

Uses the Apache `avro` package's DatumWriter/DatumReader with Flume's schema, as Flume's Kafka
sink and channel do (raw Avro binary, no container header).

  encode   reads JSON lines {"headers": {...}, "body": BASE64} on stdin, writes one hex line
           per event
  decode   reads hex lines on stdin, writes one JSON line {"headers": {...}, "body": BASE64}
           per event; exits non-zero when a line holds bytes after the event
"""

import base64
import io
import json
import sys

import avro.io
import avro.schema

SCHEMA = avro.schema.parse(json.dumps({
    "type": "record",
    "name": "AvroFlumeEvent",
    "namespace": "org.apache.flume.source.avro",
    "fields": [
        {"name": "headers", "type": {"type": "map", "values": "string"}},
        {"name": "body", "type": "bytes"},
    ],
}))


def encode(line):
    spec = json.loads(line)
    out = io.BytesIO()
    avro.io.DatumWriter(SCHEMA).write(
        {"headers": spec["headers"], "body": base64.b64decode(spec["body"])},
        avro.io.BinaryEncoder(out),
    )
    return out.getvalue().hex()


def decode(line):
    data = bytes.fromhex(line)
    stream = io.BytesIO(data)
    event = avro.io.DatumReader(SCHEMA).read(avro.io.BinaryDecoder(stream))
    if stream.tell() != len(data):
        sys.exit(f"{len(data) - stream.tell()} bytes after the event")
    return json.dumps({
        "headers": event["headers"],
        "body": base64.b64encode(event["body"]).decode(),
    })


def main():
    command = {"encode": encode, "decode": decode}[sys.argv[1]]
    for line in sys.stdin:
        line = line.strip()
        if line:
            print(command(line))


if __name__ == "__main__":
    main()

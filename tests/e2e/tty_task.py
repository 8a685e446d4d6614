#!/usr/bin/python3
"""Create and start a containerd task with a TTY *and* a log URI.

`ctr run -t` ignores `--log-uri` (it wires the console to its own stdin/stdout), and
`ctr task exec` refuses the pair, so this talks to containerd's gRPC API directly.
Messages are encoded by hand (a handful of fields), so only python3-grpcio is needed.

usage: tty_task.py SOCKET NAMESPACE ID SNAPSHOTTER SNAPSHOT_KEY LOG_URI RUNC_ROOT

The container ID must exist (`ctr container create --config ...`) and the snapshot
SNAPSHOT_KEY must be prepared; its mounts become the task's rootfs. Prints the pid.
"""
import sys

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def parse(data):
    """Yield (field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = read_varint(data, i)
        elif wt == 2:
            n, i = read_varint(data, i)
            val, i = data[i:i + n], i + n
        elif wt == 1:
            val, i = data[i:i + 8], i + 8
        elif wt == 5:
            val, i = data[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, val


def read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def main():
    sock, ns, cid, snapshotter, key, uri, runc_root = sys.argv[1:8]
    ident = lambda b: b  # noqa: E731 (raw bytes in and out)
    chan = grpc.insecure_channel("unix://" + sock)
    md = [("containerd-namespace", ns)]

    def call(method, req):
        rpc = chan.unary_unary(method, request_serializer=ident, response_deserializer=ident)
        return rpc(req, metadata=md, timeout=30)

    # Snapshots.Mounts{snapshotter=1, key=2} -> {repeated Mount mounts = 1}
    resp = call("/containerd.services.snapshots.v1.Snapshots/Mounts",
                field_bytes(1, snapshotter) + field_bytes(2, key))
    mounts = [v for num, wt, v in parse(resp) if num == 1]
    # runc options (containerd.runc.v1.Options): root = 7
    opts = field_bytes(1, "containerd.runc.v1.Options") + field_bytes(2, field_bytes(7, runc_root))
    # CreateTaskRequest{container_id=1, rootfs=3, stdin=4, stdout=5, stderr=6, terminal=7, options=9}
    req = field_bytes(1, cid)
    for m in mounts:
        req += field_bytes(3, m)
    req += field_bytes(5, uri) + field_bytes(6, uri) + field_varint(7, 1) + field_bytes(9, opts)
    resp = call("/containerd.services.tasks.v1.Tasks/Create", req)
    # StartRequest{container_id=1} -> {pid=1}
    resp = call("/containerd.services.tasks.v1.Tasks/Start", field_bytes(1, cid))
    pid = next((v for num, wt, v in parse(resp) if num == 1), 0)
    print(pid)


if __name__ == "__main__":
    main()

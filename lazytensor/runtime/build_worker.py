"""A process that builds OpenCL programs for lazytensor's build pool (runtime/build_pool.py).

Run as a script by path, never imported as part of lazytensor: it imports pyopencl alone, so
it starts in a fraction of a second and never runs the user's `__main__`.

Messages on stdin and stdout are length-prefixed pickles (build_pool.send / receive):
  in:  (platform name, device name, driver version, build options)   once, first
  out: ("ready", None) once the device builds, or ("failed", why)
  in:  source                                                       per program
  out: ("built", binary) or ("refused", the compiler's log)
Each binary is read back after the build, which compiles the work-group functions too (PoCL
does that at a kernel's first launch otherwise), so the parent loads it and runs at once.
"""
from __future__ import annotations

import pickle
import signal
import struct
import sys

_HEADER = struct.Struct("<Q")


def send(stream, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream):
    """The next message, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))


_WARM_UP = "__kernel void lt_warm_up(__global float* a) { a[get_global_id(0)] += 1.0f; }"


def _device(cl, platform: str, name: str, driver: str):
    for p in cl.get_platforms():
        if p.name == platform:
            for d in p.get_devices():
                if d.name == name and d.driver_version == driver:
                    return d
    raise LookupError(f"no OpenCL device {name!r} of {platform!r} (driver {driver}) in this process")


def _build(cl, ctx, source: str, options: list[str]) -> "cl.Program":
    return cl.Program(ctx, source).build(options=options)


def _binary(cl, program) -> bytes:
    return program.get_info(cl.program_info.BINARIES)[0]  # the context has one device


def main() -> int:
    # a Ctrl-C at the terminal is the parent's to handle; this process ends with its input
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    wanted = receive(stdin)
    if wanted is None:
        return 0
    *device, options = wanted
    try:
        import pyopencl as cl
        dev = _device(cl, *device)
        ctx = cl.Context([dev])
        # the first build of a process (and options) loads the compiler; PoCL unloads it again
        # with the device's last program, so the warm-up program is kept for the process
        warm_up = _build(cl, ctx, _WARM_UP, options)
        _binary(cl, warm_up)  # reading a binary back loads the work-group compiler as well
    except Exception as e:  # noqa: BLE001 - the parent builds in-process instead
        send(stdout, ("failed", f"{type(e).__name__}: {e}"))
        return 1
    send(stdout, ("ready", None))
    while (source := receive(stdin)) is not None:
        try:
            send(stdout, ("built", _binary(cl, _build(cl, ctx, source, options))))
        except cl.Error as e:
            send(stdout, ("refused", str(e)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

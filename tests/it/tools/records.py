"""tests/it/tools/records.py - how the test servers beside it
(smtp_server.py, http_listener.py) write their records: whole files that
appear complete, log lines appended one at a time, and the port/pid/ready
files that tell notify_lib.sh the server listens."""

import os


def write_file(path, data):
    """Write bytes to path through a hidden temporary name and a rename, so
    a reader never sees it half-written."""
    d, base = os.path.split(path)
    tmp = os.path.join(d, "." + base + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def append_line(path, text):
    """Append one line (text and a newline) to path."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(text + "\n")


def announce(out, port):
    """DIR/port and DIR/pid, then DIR/ready: the server accepts connections."""
    write_file(os.path.join(out, "port"), b"%d\n" % port)
    write_file(os.path.join(out, "pid"), b"%d\n" % os.getpid())
    write_file(os.path.join(out, "ready"), b"ready\n")

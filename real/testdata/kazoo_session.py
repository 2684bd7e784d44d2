"""A scripted kazoo session (Debian's python3-kazoo) against a ZooKeeper
ensemble: every API the session uses prints one line, so that the same
script run against zoosim and against Apache ZooKeeper prints the same
text. Usage: kazoo_session.py HOSTS ROOT"""
import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, NoAuthError, NodeExistsError,
                              NoNodeError, NotEmptyError)
from kazoo.security import make_digest_acl

hosts, root = sys.argv[1], sys.argv[2]


def say(*args):
    print(*args, flush=True)


def short(p):
    return p[len(root):] or "/"


zk = KazooClient(hosts=hosts, timeout=10)
zk.start(timeout=30)
say("connected", zk.connected)
say("server version", zk.server_version()[:3])
say("ruok", zk.command(b"ruok"))

zk.ensure_path(root + "/a/b")
say("ensure_path", zk.exists(root + "/a/b") is not None)
for v in (b"1", b"2"):
    say("create sequential", short(zk.create(root + "/seq-", v, sequence=True)))
zk.create(root + "/eph", b"e", ephemeral=True)
data, st = zk.get(root + "/eph")
say("get ephemeral", data, st.ephemeralOwner == zk.client_id[0])
try:
    zk.create(root + "/eph")
except NodeExistsError:
    say("create again: NodeExistsError")
say("set", zk.set(root + "/a", b"v1", version=0).version)
try:
    zk.set(root + "/a", b"v2", version=0)
except BadVersionError:
    say("set a stale version: BadVersionError")
try:
    zk.get(root + "/nope")
except NoNodeError:
    say("get a missing node: NoNodeError")
try:
    zk.delete(root + "/a")
except NotEmptyError:
    say("delete a parent: NotEmptyError")
say("children", sorted(zk.get_children(root)))
data, st = zk.get(root + "/a")
say("get", data, st.version, st.numChildren, st.dataLength)

fired = threading.Event()
seen = []


def watcher(event):
    seen.append((event.type, short(event.path)))
    fired.set()


say("exists with a watch", zk.exists(root + "/w", watch=watcher))
zk.create(root + "/w", b"")
say("watch fired", fired.wait(10), seen)

t = zk.transaction()
t.create(root + "/t1", b"x")
t.check(root + "/a", 1)
t.set_data(root + "/a", b"v3", 1)
res = t.commit()
say("transaction", short(res[0]), res[1], res[2].version)
t = zk.transaction()
t.create(root + "/t2", b"x")
t.check(root + "/a", 99)
say("failed transaction", [type(r).__name__ for r in t.commit()])
say("t2 exists", zk.exists(root + "/t2") is not None)

zk.add_auth("digest", "alice:secret")
alice = make_digest_acl("alice", "secret", all=True)
zk.create(root + "/secret", b"s", acl=[alice])
acls, st = zk.get_acls(root + "/secret")
say("acl", [(a.perms, a.id.scheme, a.id.id) for a in acls], st.aversion)

other = KazooClient(hosts=hosts, timeout=10)
other.start(timeout=30)
other.sync(root)
try:
    other.get(root + "/secret")
except NoAuthError:
    say("another session: NoAuthError")
say("another session sees", sorted(other.get_children(root)))

lock = other.Lock(root + "/lock", "other")
with lock:
    zk.sync(root)  # the two sessions may be on different servers
    say("locked", sorted(zk.get_children(root + "/lock")) != [])
zk.sync(root)
say("unlocked", zk.get_children(root + "/lock"))

zk.stop()
zk.close()
other.sync(root)
say("ephemeral after close", other.exists(root + "/eph"))
other.add_auth("digest", "alice:secret")
other.delete(root, recursive=True)
say("deleted recursively", other.exists(root))
other.stop()
other.close()
say("done")

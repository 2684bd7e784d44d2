package model

// The digest lets two replicas compare their whole state by one number. It is
// the wrapping sum of one hash per node and one per session, so it does not
// depend on the order in which the state was built, and Apply keeps it up to
// date in constant time per changed node: a node caches the hashes of its
// path, data and ACL, and only the stat part is rehashed on a change.
//
// The hashes are FNV-1a run through a 64-bit finalizer (splitmix64), written
// out here so that nothing seeded per process (hash/maphash) can leak in.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// mix64 is splitmix64's finalizer: a bijection with full avalanche.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// fold absorbs one value into a running hash.
func fold(h, v uint64) uint64 { return mix64(h ^ mix64(v+0x9e3779b97f4a7c15)) }

func hashPath(path string) uint64 { return mix64(fnvString(fnvOffset, path)) }

// hashData tells nil data from empty data: both exist on the wire (a null
// buffer and a zero-length one) and a snapshot keeps them apart.
func hashData(data []byte) uint64 {
	if data == nil {
		return 0x6e696c // "nil"
	}
	return mix64(fnvBytes(fnvOffset, data) ^ uint64(len(data)))
}

func hashACL(acl []ACL) uint64 {
	h := uint64(fnvOffset)
	for _, a := range acl {
		h = fold(h, uint64(uint32(a.Perms)))
		h = fnvString(h, a.Scheme)
		h = fold(h, uint64(len(a.Scheme)))
		h = fnvString(h, a.ID)
		h = fold(h, uint64(len(a.ID)))
	}
	return fold(h, uint64(len(acl)))
}

// computeHash covers everything a node holds except its children list, which
// the children's own hashes (their paths) already account for.
func (n *node) computeHash() uint64 {
	h := n.pathHash
	h = fold(h, n.dataHash)
	h = fold(h, n.aclHash)
	h = fold(h, uint64(n.czxid))
	h = fold(h, uint64(n.mzxid))
	h = fold(h, uint64(n.pzxid))
	h = fold(h, uint64(n.ctime))
	h = fold(h, uint64(n.mtime))
	h = fold(h, uint64(uint32(n.version))<<32|uint64(uint32(n.cversion)))
	h = fold(h, uint64(uint32(n.aversion))<<8|uint64(n.kind))
	h = fold(h, uint64(n.owner))
	h = fold(h, uint64(n.ttl))
	return h
}

// rehash refreshes a node's share of the digest after its fields changed.
func (t *Tree) rehash(n *node) {
	old := n.hash
	n.hash = n.computeHash()
	t.digest += n.hash - old
}

func hashSession(id int64, timeoutMs int32) uint64 {
	return fold(fold(0x73657373696f6e, uint64(id)), uint64(uint32(timeoutMs)))
}

// Digest is a hash of the whole replicated state (every node, with its path,
// data, ACL and stored stat, and the session table), equal for equal states
// whatever history built them. The last zxid is not part of it.
func (t *Tree) Digest() uint64 { return t.digest }

// recomputeDigest rebuilds the digest from scratch; tests and UnmarshalBinary
// hold the incremental one to it.
func (t *Tree) recomputeDigest() uint64 {
	var d uint64
	for p, n := range t.nodes {
		c := *n
		c.pathHash = hashPath(p)
		c.dataHash = hashData(n.data)
		c.aclHash = hashACL(n.acl)
		d += c.computeHash()
	}
	for id, e := range t.sessions {
		d += hashSession(id, e.timeoutMs)
	}
	return d
}

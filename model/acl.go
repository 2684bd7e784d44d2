package model

import (
	"slices"
	"strings"
)

// ACL grants Perms to the identity (Scheme, ID), as ZooKeeper's ACL record.
type ACL struct {
	Perms  int32
	Scheme string
	ID     string
}

// Permission bits (ZooDefs.Perms).
const (
	PermRead   int32 = 1 << 0
	PermWrite  int32 = 1 << 1
	PermCreate int32 = 1 << 2
	PermDelete int32 = 1 << 3
	PermAdmin  int32 = 1 << 4
	PermAll    int32 = PermRead | PermWrite | PermCreate | PermDelete | PermAdmin
)

// ZooDefs.Ids. They are shared values: never modify their elements.
var (
	// OpenACLUnsafe gives everyone every permission.
	OpenACLUnsafe = []ACL{{Perms: PermAll, Scheme: "world", ID: "anyone"}}
	// ReadACLUnsafe lets everyone read; /zookeeper/config carries it.
	ReadACLUnsafe = []ACL{{Perms: PermRead, Scheme: "world", ID: "anyone"}}
)

// AuthID is an identity a client connection has proved (ZooKeeper's Id in
// ServerCnxn.authInfo): digest:"user:base64(sha1(user:pass))" after
// addauth digest, ip:"a.b.c.d" for the address the connection comes from,
// and super:"" for a digest that equals the server's super digest. The
// server keeps them per connection; a follower forwards them with every
// write it hands the leader (ZooKeeper's Request.authInfo), and the leader
// checks them when it prepares the txn.
type AuthID struct {
	Scheme string
	ID     string
}

// Auth schemes (ZooKeeper's registered providers, plus world and super).
const (
	SchemeWorld  = "world"
	SchemeAuth   = "auth"
	SchemeDigest = "digest"
	SchemeIP     = "ip"
	SchemeSuper  = "super"
)

// Permits reports whether a requester holding the identities auth may use
// perm on a node with this ACL. It is ZooKeeperServer.checkACL: an empty ACL
// permits everything; a super identity is permitted everything; otherwise an
// entry must grant one of perm's bits to world:anyone or to an identity the
// requester holds, as the entry's scheme matches them (digest: equal ids;
// ip: the requester's address within the entry's address and mask). An
// entry of a scheme no provider handles matches no one.
func Permits(acl []ACL, perm int32, auth []AuthID) bool {
	if len(acl) == 0 {
		return true
	}
	for _, id := range auth {
		if id.Scheme == SchemeSuper {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.Scheme == SchemeWorld && a.ID == "anyone" {
			return true
		}
		if a.Scheme != SchemeDigest && a.Scheme != SchemeIP {
			continue // no provider for the scheme
		}
		for _, id := range auth {
			if id.Scheme == a.Scheme && schemeMatches(a.Scheme, id.ID, a.ID) {
				return true
			}
		}
	}
	return false
}

func schemeMatches(scheme, id, aclExpr string) bool {
	if scheme == SchemeIP {
		return ipMatches(id, aclExpr)
	}
	return id == aclExpr // DigestAuthenticationProvider.matches
}

// fixupACL is PrepRequestProcessor.fixupACL: drop duplicate entries (keeping
// the first), refuse an empty list, expand the "auth" scheme into one entry
// per authenticated identity of the requester (digest ones: ip is not an
// authenticated scheme and super has no provider; none is InvalidACL), and
// refuse identities that no registered authentication provider accepts. It
// always returns a fresh slice so the txn never aliases the caller's.
func fixupACL(acl []ACL, auth []AuthID) ([]ACL, Err) {
	if len(acl) == 0 {
		return nil, ErrInvalidACL
	}
	uniq := make([]ACL, 0, len(acl))
	for _, a := range acl {
		if !slices.Contains(uniq, a) {
			uniq = append(uniq, a)
		}
	}
	out := make([]ACL, 0, len(uniq))
	for _, a := range uniq {
		switch {
		case a.Scheme == SchemeWorld && a.ID == "anyone":
			out = append(out, a)
		case a.Scheme == SchemeAuth:
			expanded := false
			for _, id := range auth {
				if id.Scheme == SchemeDigest {
					out = append(out, ACL{Perms: a.Perms, Scheme: id.Scheme, ID: id.ID})
					expanded = true
				}
			}
			if !expanded {
				return nil, ErrInvalidACL
			}
		case validACLID(a.Scheme, a.ID):
			out = append(out, a)
		default:
			return nil, ErrInvalidACL
		}
	}
	return out, ErrOK
}

// validACLID is the isValid of the providers a default ZooKeeper server has
// registered (ip and digest). "world" has no provider: only world:anyone,
// which fixupACL handles itself, is valid.
func validACLID(scheme, id string) bool {
	switch scheme {
	case SchemeDigest:
		// DigestAuthenticationProvider.isValid: id.split(":").length == 2.
		return javaSplitLen(id, ':') == 2
	case SchemeIP:
		return validIPSpec(id)
	}
	return false
}

// javaSplitLen is len(s.split(sep)) in Java: trailing empty strings are
// dropped.
func javaSplitLen(s string, sep byte) int {
	parts := strings.Split(s, string(sep))
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return len(parts)
}

// validIPSpec is IPAuthenticationProvider.isValid: an IPv4 address with an
// optional "/bits" mask of 0..32.
func validIPSpec(id string) bool {
	_, _, ok := parseIPSpec(id)
	return ok
}

// parseIPSpec reads an ip ACL entry, "a.b.c.d" or "a.b.c.d/bits".
func parseIPSpec(spec string) (addr [4]byte, bits int, ok bool) {
	a, b, hasBits := strings.Cut(spec, "/")
	if addr, ok = ipv4Bytes(a); !ok {
		return addr, 0, false
	}
	bits = 32
	if hasBits {
		v, ok := javaParseInt(b)
		if !ok || v < 0 || v > 32 {
			return addr, 0, false
		}
		bits = int(v)
	}
	return addr, bits, true
}

// ipv4Bytes is IPAuthenticationProvider.v4addr2Bytes: four dot-separated
// numbers 0..255 (an IPv6 address never matches).
func ipv4Bytes(s string) ([4]byte, bool) {
	var out [4]byte
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return out, false
	}
	for i, p := range parts {
		v, ok := javaParseInt(p)
		if !ok || v < 0 || v > 255 {
			return out, false
		}
		out[i] = byte(v)
	}
	return out, true
}

// ipMatches is IPAuthenticationProvider.matches: the requester's address id
// and the entry's address agree on the entry's first bits.
func ipMatches(id, aclExpr string) bool {
	want, bits, ok := parseIPSpec(aclExpr)
	if !ok {
		return false
	}
	got, ok := ipv4Bytes(id)
	if !ok {
		return false
	}
	maskIP(&want, bits)
	maskIP(&got, bits)
	return want == got
}

// maskIP keeps the first bits of b (IPAuthenticationProvider.mask).
func maskIP(b *[4]byte, bits int) {
	keep := byte(0xff << (8 - bits%8))
	for i := bits / 8; i < len(b); i++ {
		b[i] &= keep
		keep = 0
	}
}

// javaParseInt is Integer.parseInt for ASCII digits: an optional sign, at
// least one digit, within int32.
func javaParseInt(s string) (int64, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int64(s[i]-'0')
		if v > 1<<31 {
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	if v > 1<<31-1 {
		return 0, false
	}
	return v, true
}

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

// Permits reports whether a requester may use perm on a node with this ACL,
// as ZooKeeperServer.checkACL. zoosim sessions never authenticate, so the only
// identity a requester has is world:anyone: entries for other schemes never
// match. An empty ACL permits everything, as in ZooKeeper.
func Permits(acl []ACL, perm int32) bool {
	if len(acl) == 0 {
		return true
	}
	for _, a := range acl {
		if a.Perms&perm != 0 && a.Scheme == "world" && a.ID == "anyone" {
			return true
		}
	}
	return false
}

// fixupACL is PrepRequestProcessor.fixupACL: drop duplicate entries (keeping
// the first), refuse an empty list, and refuse identities that no registered
// authentication provider accepts. It always returns a fresh slice so the txn
// never aliases the caller's.
func fixupACL(acl []ACL) ([]ACL, Err) {
	if len(acl) == 0 {
		return nil, ErrInvalidACL
	}
	out := make([]ACL, 0, len(acl))
	for _, a := range acl {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, a := range out {
		if !validACLID(a.Scheme, a.ID) {
			return nil, ErrInvalidACL
		}
	}
	return out, ErrOK
}

// validACLID mirrors the providers a default ZooKeeper server has registered
// (ip and digest) plus the two schemes fixupACL handles itself.
func validACLID(scheme, id string) bool {
	switch scheme {
	case "world":
		// fixupACL accepts world:anyone; there is no "world" provider to
		// accept any other id.
		return id == "anyone"
	case "auth":
		// "auth" expands to the requester's authenticated ids, and fails when
		// there are none; zoosim sessions never authenticate.
		return false
	case "digest":
		// DigestAuthenticationProvider.isValid: id.split(":").length == 2.
		return javaSplitLen(id, ':') == 2
	case "ip":
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
	addr, bits, hasBits := strings.Cut(id, "/")
	parts := strings.Split(addr, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		v, ok := javaParseInt(p)
		if !ok || v < 0 || v > 255 {
			return false
		}
	}
	if hasBits {
		v, ok := javaParseInt(bits)
		if !ok || v < 0 || v > 32 {
			return false
		}
	}
	return true
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

package model

import (
	"crypto/sha1"
	"encoding/base64"
	"regexp"
	"strings"
)

// The authentication providers of a ZooKeeper server, as pure functions:
// what an addauth packet proves (ZooKeeperServer.processPacket and the
// providers' handleAuthentication). The server core calls them when an auth
// packet arrives; they read no clock and do no I/O.

// DigestID is DigestAuthenticationProvider.generateDigest: for the
// credentials "user:password" it returns "user:" + base64(sha1("user:password")),
// the id a digest ACL entry names. Credentials without a colon give the
// whole string as the user. The bytes are read as Java's new String(bytes)
// does (UTF-8, every invalid byte one U+FFFD).
func DigestID(credentials []byte) string {
	id := string([]rune(string(credentials)))
	user, _, _ := strings.Cut(id, ":")
	sum := sha1.Sum([]byte(id))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// Authenticate is what an auth packet for scheme with these credentials
// adds to a connection that comes from address remote (its IP address, ""
// when unknown), or ok false when ZooKeeper answers AuthFailed (a scheme no
// provider handles; an ip auth without a known address). superDigest is
// the server's super digest ("" for none): a digest that equals it also
// proves super:"" (DigestAuthenticationProvider.handleAuthentication).
func Authenticate(scheme string, credentials []byte, remote, superDigest string) (ids []AuthID, ok bool) {
	switch scheme {
	case SchemeDigest:
		d := DigestID(credentials)
		if superDigest != "" && d == superDigest {
			ids = append(ids, AuthID{Scheme: SchemeSuper})
		}
		return append(ids, AuthID{Scheme: SchemeDigest, ID: d}), true
	case SchemeIP:
		// IPAuthenticationProvider.handleAuthentication ignores the
		// credentials: the address is what it proves.
		if remote == "" {
			return nil, false
		}
		return []AuthID{{Scheme: SchemeIP, ID: remote}}, true
	}
	return nil, false
}

// UserName is the user an identity names, as its provider's getUserName
// says (whoAmI reports it): digest, the user before the colon; ip, the
// address; a scheme without provider (super), "".
func UserName(id AuthID) string {
	switch id.Scheme {
	case SchemeDigest:
		user, _, _ := strings.Cut(id.ID, ":")
		return user
	case SchemeIP:
		return id.ID
	}
	return ""
}

// AddAuthIDs adds ids to a connection's set (ZooKeeper keeps a set: an id
// proved twice is held once) and returns the new set, leaving have as it
// was: a request keeps the identities its connection had when it arrived.
func AddAuthIDs(have []AuthID, ids ...AuthID) []AuthID {
	out := have
	copied := false
	for _, id := range ids {
		if containsAuthID(out, id) {
			continue
		}
		if !copied {
			out = append(make([]AuthID, 0, len(have)+len(ids)), have...)
			copied = true
		}
		out = append(out, id)
	}
	return out
}

func containsAuthID(ids []AuthID, id AuthID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// digestSecret is what getACL hides of a digest id.
var digestSecret = regexp.MustCompile(":.*")

// MaskDigests is what getACL answers a requester without ADMIN on the node
// (FinalRequestProcessor): every digest entry's id cut to "user:x", so that
// the password hash does not leak. It returns acl itself when nothing
// changes.
func MaskDigests(acl []ACL) []ACL {
	var out []ACL
	for i, a := range acl {
		if a.Scheme != SchemeDigest {
			continue
		}
		if out == nil {
			out = append(make([]ACL, 0, len(acl)), acl...)
		}
		// Java's id.replaceAll(":.*", ":x") ('.' stops at a line break
		// in both languages' regexps; Go's stops only at '\n').
		out[i].ID = digestSecret.ReplaceAllString(a.ID, ":x")
	}
	if out == nil {
		return acl
	}
	return out
}

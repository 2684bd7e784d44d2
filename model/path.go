package model

import (
	"strings"
	"unicode/utf8"
)

// ValidatePath applies ZooKeeper's PathUtils.validatePath and returns
// ErrBadArguments (what PrepRequestProcessor turns its IllegalArgumentException
// into) or nil.
//
// The rules: absolute; no trailing '/' except the root; no empty, "." or ".."
// component; no NUL; no character in 0x01-0x1F, 0x7F-0x9F, 0xD800-0xF8FF or
// 0xFFF0-0xFFFF. ZooKeeper checks UTF-16 code units of a string decoded from
// UTF-8 with replacement, so any character outside the Basic Multilingual
// Plane (a surrogate pair) and any malformed UTF-8 (decoded as U+FFFD) are
// rejected too; the rune loop below gives the same answer.
func ValidatePath(path string) error {
	if !validPath(path) {
		return ErrBadArguments
	}
	return nil
}

func validPath(path string) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	if len(path) == 1 {
		return true
	}
	if path[len(path)-1] == '/' {
		return false
	}
	// beforeLast is the character before last; both start as the leading '/'.
	last, beforeLast := rune('/'), rune('/')
	for i := 1; i < len(path); {
		c, size := rune(path[i]), 1
		if c >= utf8.RuneSelf {
			c, size = utf8.DecodeRuneInString(path[i:])
		}
		// '/' and '.' are ASCII, so the byte after c is the next character
		// whenever it matters.
		endsComponent := i+size == len(path) || path[i+size] == '/'
		switch {
		case c == 0:
			return false
		case c == '/' && last == '/':
			return false
		case c == '.' && last == '.':
			if beforeLast == '/' && endsComponent {
				return false
			}
		case c == '.':
			if last == '/' && endsComponent {
				return false
			}
		case invalidPathChar(c):
			return false
		}
		beforeLast, last = last, c
		i += size
	}
	return true
}

func invalidPathChar(c rune) bool {
	return c > 0x00 && c <= 0x1f ||
		c >= 0x7f && c <= 0x9f ||
		c >= 0xd800 && c <= 0xf8ff ||
		c >= 0xfff0 // U+FFF0..U+FFFF, U+FFFD from bad UTF-8, and surrogate pairs in Java
}

// parentPath returns the parent of a path the way ZooKeeper computes it
// (everything before the last '/'), with the root's alias "" mapped to "/".
// ok is false when the path has no '/'.
func parentPath(path string) (parent string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", false
	}
	if i == 0 {
		return "/", true
	}
	return path[:i], true
}

// baseName is the last component: the child name stored in the parent.
func baseName(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// isSpecialPath reports the nodes ZooKeeper refuses to delete
// (DataTree.isSpecialPath).
func isSpecialPath(path string) bool {
	switch path {
	case "/", zookeeperPath, quotaPath, configPath:
		return true
	}
	return false
}

// The nodes every tree starts with, as in DataTree's constructor.
const (
	zookeeperPath = "/zookeeper"
	quotaPath     = "/zookeeper/quota"
	configPath    = "/zookeeper/config"
)

// formatSequence is Java's String.format("%010d", n): zero-padded to ten
// characters, a minus sign counting as one of them.
func formatSequence(n int32) string {
	var buf [11]byte
	v := int64(n)
	neg := v < 0
	if neg {
		v = -v
	}
	i := len(buf)
	for v > 0 || i == len(buf) {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	width := 10
	if neg {
		width = 9
	}
	for len(buf)-i < width {
		i--
		buf[i] = '0'
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
